/**
 * Opt-in (XSMQTT_MODDABLE_E2E=1, $MODDABLE set, Linux with xvfb-run): battery mode in the
 * Moddable desktop build. Built with `sleep=2` and its own files and preferences folders,
 * run by tools/sim.ts, which ends mcsim at each `# deep sleep <ms> ms` and starts it again
 * after the sleep. Over 4 wakes against mosquitto: every reading once, in order of `n`;
 * "timer" wakes after the first; the will never fires; the configs are sent once.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { until } from "./wait.js";
import { startMosquitto, type Mosquitto } from "../tools/runtime/brokers.js";
import { runSimulator, type SimRun } from "../tools/sim.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const e2e = process.env.XSMQTT_MODDABLE_E2E === "1" && !!process.env.MODDABLE && process.platform === "linux";

(e2e ? describe : describe.skip)("battery mode in the Moddable simulator (XSMQTT_MODDABLE_E2E=1)", function () {
  this.timeout(300000);
  let mosq: Mosquitto | null = null;
  let sim: SimRun | null = null;
  let work = "";

  after(async () => {
    await sim?.stop();
    await mosq?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("4 wakes of deep sleep: every reading once, timer wakes, no will, configs once", async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-sim-battery-"));
    const out = path.join(work, "build");
    const files = path.join(work, "files");
    const prefs = path.join(work, "prefs") + "/";
    for (const d of [out, files, prefs]) fs.mkdirSync(d, { recursive: true });
    mosq = await startMosquitto();
    const id = `simbat-${process.pid}`;
    // a manifest of its own around ours, for what key=value cannot say: the simulator's preferences folder
    const wrapper = path.join(work, "manifest.json");
    fs.writeFileSync(wrapper, JSON.stringify({ include: [path.join(root, "manifest.json")], platforms: { lin: { config: { file: { root: prefs } } } } }));
    const env = { ...process.env, PATH: `${process.env.MODDABLE}/build/bin/lin/release:${process.env.PATH}` };
    const build = spawnSync("mcconfig", ["-m", "-p", "lin", "-t", "build", "-o", out, wrapper, `brokers=mqtt://127.0.0.1:${mosq.port}`, "sleep=2", `deviceId=${id}`, `files=${files}`], {
      cwd: root,
      encoding: "utf8",
      env,
    });
    assert.equal(build.status, 0, (build.stdout + build.stderr).slice(-2000));
    const got: { topic: string; payload: string }[] = [];
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${mosq.port}`, { reconnectPeriod: 0 });
    sub.on("message", (topic, payload) => got.push({ topic, payload: payload.toString() }));
    await sub.subscribeAsync([`xsmqtt/${id}/#`, `homeassistant/sensor/${id}/+/config`], { qos: 1 });
    try {
      const sleeps: number[] = [];
      sim = runSimulator(path.join(out, "bin/lin/mc/release/xsmqtt/mc.so"), { env, onSleep: (ms) => sleeps.push(ms) });
      const s = sim;
      await until(() => sleeps.length >= 4, 120000, "4 deep sleeps");
      await s.stop();
      const ns = got.filter((g) => /\/(env|pressure)$/.test(g.topic)).map((g) => JSON.parse(g.payload).n);
      assert.deepEqual(
        ns,
        Array.from({ length: 8 }, (_, i) => i),
        "2 readings a wake, each once",
      );
      const statuses = got.filter((g) => g.topic.endsWith("/status")).map((g) => JSON.parse(g.payload));
      assert.deepEqual(
        statuses.map((x) => x.state),
        ["online", "online", "online", "online"],
      );
      assert.deepEqual(
        statuses.map((x) => x.wake),
        ["power-on", "timer", "timer", "timer"],
      );
      assert.deepEqual(sleeps, [2000, 2000, 2000, 2000]);
      assert.equal(got.filter((g) => g.topic.startsWith("homeassistant/")).length, 3, "the configs once");
      const awake = s.lines.flatMap((l) => /# awake (\d+) ms, connected after (\d+) ms/.exec(l) ?? []).filter((_, i) => i % 3 !== 0);
      console.log(`      simulator wakes (awake ms, connected after ms): ${awake.join(" ")}`);
    } finally {
      await sub.endAsync(true);
    }
  });
});
