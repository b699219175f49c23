/**
 * Opt-in (XSMQTT_MODDABLE_E2E=1, $MODDABLE set, Linux with xvfb-run): the readings journal
 * in the Moddable desktop build, on the SDK's ECMA-419 files (posix in the simulator,
 * littlefs on the ESP32). The firmware is built with mcconfig into a folder of its own,
 * run in mcsim against mosquitto; the broker stops, the simulator is SIGKILLed, the broker
 * comes back and the simulator starts again on the same files: every reading numbered
 * before the kill arrives, none twice that the broker had.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { sleep, until } from "./wait.js";
import { startMosquitto, type Mosquitto } from "../tools/runtime/brokers.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const e2e = process.env.XSMQTT_MODDABLE_E2E === "1" && !!process.env.MODDABLE && process.platform === "linux";

/** Sequence numbers of the readings a journal file holds (format in src/app/journal.ts; checksums are the journal suite's business). */
function heldAt(file: string): Set<number> {
  const b = fs.readFileSync(file);
  const held = new Set<number>();
  for (let at = 0; at + 12 <= b.length; ) {
    const n = 12 + b[at + 1] + b.readUInt16BE(at + 2);
    if (at + n > b.length) break;
    const type = String.fromCharCode(b[at]);
    const seq = b.readUInt32BE(at + 4);
    if (type === "R") held.add(seq);
    else if (type === "A" || type === "D") held.delete(seq);
    at += n;
  }
  return held;
}

(e2e ? describe : describe.skip)("readings survive a SIGKILL in the Moddable simulator (XSMQTT_MODDABLE_E2E=1)", function () {
  this.timeout(300000);
  let mosq: Mosquitto | null = null;
  let work = "";
  const sims: ChildProcess[] = [];

  after(async () => {
    for (const s of sims) {
      try {
        process.kill(-s.pid!, "SIGKILL");
      } catch {
        // gone
      }
    }
    await mosq?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("sends every reading held at the kill after the restart, from the simulator's files", async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-sim-reboot-"));
    const out = path.join(work, "build");
    const files = path.join(work, "files");
    fs.mkdirSync(out);
    fs.mkdirSync(files);
    mosq = await startMosquitto();
    const port = mosq.port;
    const id = `sim-${process.pid}`;
    const env = { ...process.env, PATH: `${process.env.MODDABLE}/build/bin/lin/release:${process.env.PATH}` };
    const build = spawnSync(
      "mcconfig",
      ["-m", "-p", "lin", "-t", "build", "-o", out, `brokers=mqtt://127.0.0.1:${port}`, "interval=500", `deviceId=${id}`, `files=${files}`],
      { cwd: root, encoding: "utf8", env },
    );
    assert.equal(build.status, 0, (build.stdout + build.stderr).slice(-2000));
    const so = path.join(out, "bin/lin/mc/release/xsmqtt/mc.so");
    const mcsim = path.join(process.env.MODDABLE!, "build/bin/lin/release/mcsim");
    const run = () => {
      const s = spawn("xvfb-run", ["-a", "stdbuf", "-oL", mcsim, so], { stdio: ["ignore", "pipe", "pipe"], detached: true, env });
      sims.push(s);
      return s;
    };
    const got: { n: number; payload: string; phase: number }[] = [];
    let phase = 1;
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 200 });
    sub.on("message", (topic, payload) => {
      if (!topic.endsWith("/status")) got.push({ n: JSON.parse(payload.toString()).n, payload: payload.toString(), phase });
    });
    sub.on("connect", () => void sub.subscribe(`xsmqtt/${id}/#`, { qos: 1 }));
    await sub.subscribeAsync(`xsmqtt/${id}/#`, { qos: 1 });
    try {
      const first = run();
      await until(() => got.length >= 6, 60000, "readings from the simulator");
      await mosq.close();
      mosq = null;
      await sleep(4000); // about 16 readings into the journal
      process.kill(-first.pid!, "SIGKILL");
      await sleep(500);
      const journal = path.join(files, "xsmqtt", "readings.log");
      const held = heldAt(journal);
      assert.ok(held.size >= 5, `${held.size} readings in the journal at the kill`);
      const before = new Set(got.map((g) => g.n));
      mosq = await startMosquitto({ port });
      await until(() => sub.connected, 10000, "the subscriber back");
      await sleep(300);
      phase = 2;
      run();
      await until(() => got.some((g) => g.phase === 2 && g.n > Math.max(...before) + 16), 60000, "readings after the restart");
      const all = new Set(got.map((g) => g.n));
      const top = Math.max(...all);
      // numbering goes on from the simulator's preferences (shared by every simulator run), not from 0
      const lowest = Math.min(...all);
      const missing = [];
      for (let n = lowest; n <= top; n++) if (!all.has(n)) missing.push(n);
      assert.deepEqual(missing, [], "no reading lost");
      // a reading in flight when the broker went away may have reached it unacknowledged: that one is held, and may come twice
      const again = got.filter((g) => g.phase === 2 && before.has(g.n) && !held.has(g.n)).map((g) => g.n);
      assert.deepEqual(again, [], "nothing the broker had is sent again");
    } finally {
      await sub.endAsync(true);
    }
  });
});
