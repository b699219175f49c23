/**
 * `xsmqtt monitor` and `xsmqtt provision` over pseudo-terminal pairs (socat), run as
 * users run them: `node bin/xsmqtt.js ...` in a child process. The device end is either
 * the test writing lines, or the real firmware on the simulated host board with its
 * console on the pty, against real brokers.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { INTERNAL_KEYS } from "../src/app/app.js";
import { runHostApp, serialConsole, type HostRun } from "../src/platform/node/host.js";
import { LineSplitter } from "../tools/commands/monitor.js";
import { mosquittoPath, startAedes, startMosquitto, type AedesBroker, type Broker } from "../tools/runtime/brokers.js";
import { requireSocat, startPtyPair, type PtyPair } from "./pty.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STAMP = /^\d\d:\d\d:\d\d\.\d{3} /;

async function until(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    await sleep(20);
  }
}

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** The exit status (a signal's name if it was killed). */
  done: Promise<number | string>;
}

/** Starts `xsmqtt args...`; the suite kills what is still running afterwards. */
function xsmqtt(args: string[], running: Set<ChildProcess>): Run {
  const child = spawn(process.execPath, ["bin/xsmqtt.js", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  const r: Run = {
    child,
    stdout: "",
    stderr: "",
    done: new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (status, signal) => {
        running.delete(child);
        resolve(status ?? signal ?? -1);
      });
    }),
  };
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (r.stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (r.stderr += d));
  return r;
}

describe("serial console (monitor, provision)", function () {
  this.timeout(20000);
  let dir = "";
  let pair: PtyPair | null = null;
  const running = new Set<ChildProcess>();

  before(function () {
    requireSocat(this);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-serial-"));
  });
  afterEach(async () => {
    for (const child of running) child.kill("SIGKILL");
    await pair?.stop();
    pair = null;
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  describe("LineSplitter", () => {
    it("ends lines at CR, LF and CRLF wherever the chunks are cut, and keeps each line's first arrival", () => {
      const text = "# one\r\ntwo\nthree\rfour\r\n\r\nfive";
      const expected = ["# one", "two", "three", "four", ""];
      for (let cut = 0; cut <= text.length; cut++) {
        const s = new LineSplitter();
        const got = [...s.push(text.slice(0, cut), 1), ...s.push(text.slice(cut), 2)];
        assert.deepEqual(
          got.map((l) => l.line),
          expected,
          `cut at ${cut}`,
        );
        assert.equal(got[0].at, cut > 0 ? 1 : 2, `cut at ${cut}`);
        assert.deepEqual(s.flush(), { line: "five", at: cut > text.length - 4 ? 1 : 2 });
        assert.equal(s.flush(), null);
      }
    });
  });

  describe("monitor", () => {
    it("prints the device's lines with timestamps, waits when the port goes away and resumes when it is back", async () => {
      const a = path.join(dir, "mon-a");
      const b = path.join(dir, "mon-b");
      pair = await startPtyPair(a, b);
      const mon = xsmqtt(["monitor", "--port", b], running);
      await until(() => mon.stderr.includes(`monitoring ${b} at 115200 baud`), 5000, () => `the monitor to start: ${mon.stderr}`);

      let dev = await serialConsole(a);
      dev.write("# xsmqtt 0.1.0 on host: device d1");
      dev.write("value interval 200");
      await until(() => mon.stdout.split("\n").length > 2, 3000, () => `two lines: ${JSON.stringify(mon.stdout)}`);
      const lines = mon.stdout.split("\n").slice(0, 2);
      for (const l of lines) assert.match(l, STAMP);
      assert.deepEqual(
        lines.map((l) => l.replace(STAMP, "")),
        ["# xsmqtt 0.1.0 on host: device d1", "value interval 200"],
      );

      // the device goes away (socat ends and removes both links), then comes back at the same path
      await dev.close();
      await pair.stop();
      await until(() => mon.stderr.includes("port closed, waiting…"), 5000, () => `"port closed": ${mon.stderr}`);
      await sleep(400); // a few polls with the path absent
      assert.equal(mon.child.exitCode, null, "the monitor keeps running");
      pair = await startPtyPair(a, b);
      await until(() => mon.stderr.includes(`port reopened: ${b}`), 3000, () => `"port reopened": ${mon.stderr}`);
      dev = await serialConsole(a);
      dev.write("# after the reset");
      await until(() => mon.stdout.includes("# after the reset\n"), 3000, () => `the line after the reset: ${JSON.stringify(mon.stdout)}`);
      assert.match(mon.stdout.split("\n")[2], /^\d\d:\d\d:\d\d\.\d{3} # after the reset$/);
      await dev.close();

      mon.child.kill("SIGINT");
      assert.equal(await mon.done, 0);
    });

    it("with --raw --no-timestamp passes the bytes through as they come", async () => {
      pair = await startPtyPair(path.join(dir, "raw-a"), path.join(dir, "raw-b"));
      const mon = xsmqtt(["monitor", "--port", pair.b, "--raw", "--no-timestamp"], running);
      await until(() => mon.stderr.includes("monitoring"), 5000, () => `the monitor to start: ${mon.stderr}`);
      const dev = await serialConsole(pair.a);
      dev.write("ets Jun  8 2016\rrst:0x1 (POWERON_RESET)");
      await until(() => mon.stdout.endsWith("(POWERON_RESET)\r\n"), 3000, () => JSON.stringify(mon.stdout));
      assert.equal(mon.stdout, "ets Jun  8 2016\rrst:0x1 (POWERON_RESET)\r\n");
      await dev.close();
      mon.child.kill("SIGTERM");
      assert.equal(await mon.done, 0);
    });

    it("with --wait waits for a port that is not there yet", async () => {
      const a = path.join(dir, "wait-a");
      const b = path.join(dir, "wait-b");
      const mon = xsmqtt(["monitor", "--port", b, "--wait", "--no-timestamp"], running);
      await until(() => mon.stderr.includes(`waiting for ${b}…`), 5000, () => `"waiting": ${mon.stderr}`);
      pair = await startPtyPair(a, b);
      await until(() => mon.stderr.includes(`monitoring ${b}`), 3000, () => `the monitor to open the port: ${mon.stderr}`);
      const dev = await serialConsole(a);
      dev.write("# booted");
      await until(() => mon.stdout === "# booted\n", 3000, () => JSON.stringify(mon.stdout));
      await dev.close();
      mon.child.kill("SIGINT");
      assert.equal(await mon.done, 0);
    });

    it("exits 1 with a clear message when the port cannot be opened and --wait is not given", async () => {
      const missing = path.join(dir, "no-such-port");
      const mon = xsmqtt(["monitor", "--port", missing], running);
      assert.equal(await mon.done, 1);
      assert.match(mon.stderr, new RegExp(`^xsmqtt monitor: cannot open ${missing}: .*\\(give --wait to wait for it\\)\\n$`));
    });
  });

  describe("provision against the firmware on the host board", () => {
    let brokerA: AedesBroker;
    let brokerB: Broker;
    let firmware: HostRun | null = null;
    let cons: Awaited<ReturnType<typeof serialConsole>> | null = null;
    let watcher: mqtt.MqttClient | null = null;
    const deviceId = `serial-${process.pid}`;
    let storageFile = "";
    /** The settings stored, less the firmware's own records (the readings' sequence number, the discovery configs announced, the subscriptions held). */
    const provisioned = (): Record<string, string> => {
      if (!fs.existsSync(storageFile)) return {};
      const stored = JSON.parse(fs.readFileSync(storageFile, "utf8"));
      for (const k of INTERNAL_KEYS) delete stored[k];
      return stored;
    };

    before(async () => {
      brokerA = await startAedes();
      brokerB = mosquittoPath() ? await startMosquitto() : await startAedes();
    });
    after(async () => {
      await brokerA?.close();
      await brokerB?.close();
    });
    beforeEach(async () => {
      pair = await startPtyPair(path.join(dir, "dev-a"), path.join(dir, "dev-b"));
      storageFile = path.join(dir, `settings-${Date.now()}.json`);
      cons = await serialConsole(pair.a);
      // a log line before every answer: provision must skip them
      const write = cons.write.bind(cons);
      cons.write = (line: string) => {
        if (!line.startsWith("# ")) write("# (a log line before the answer)");
        write(line);
      };
      firmware = runHostApp({
        config: { brokers: [`mqtt://127.0.0.1:${brokerA.port}`], interval: 200, deviceId },
        storageFile,
        terminal: cons,
      });
    });
    afterEach(async () => {
      firmware?.stop();
      firmware = null;
      await cons?.close();
      cons = null;
      await watcher?.endAsync();
      watcher = null;
    });

    it("stores the settings, applies them, and the readings then go to the new broker", async () => {
      // the firmware starts out on broker A
      let onA = 0;
      brokerA.aedes.on("publish", (packet: { topic: string }, client: unknown) => client && packet.topic === `xsmqtt/${deviceId}/env` && onA++);
      await until(() => onA > 0, 5000, () => "a reading on broker A");

      const got: { topic: string; json: Record<string, unknown> }[] = [];
      watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerB.port}`, { reconnectPeriod: 0 });
      watcher.on("message", (topic, payload) => got.push({ topic, json: JSON.parse(payload.toString()) }));
      await watcher.subscribeAsync(`xsmqtt/${deviceId}/#`, { qos: 1 });

      const urlB = `mqtt://127.0.0.1:${brokerB.port}`;
      const p = xsmqtt(["provision", "--port", pair!.b, "--ssid", "lab net", "--password", "wifi-s3cret", "--broker", urlB, "--user", "kitchen", "--pass", "mqtt-s3cret", "--qos", "0"], running);
      assert.equal(await p.done, 0, p.stderr);
      assert.equal(p.stderr, "");
      assert.equal(
        p.stdout,
        [
          `stored in the device on ${pair!.b}:`,
          "  ssid      lab net",
          "  wifipass  ********",
          `  broker    ${urlB}`,
          "  user      kitchen",
          "  pass      ********",
          "  qos       0",
          "applied: the device is reconnecting with these settings",
          "",
        ].join("\n"),
      );
      assert.ok(!p.stdout.includes("s3cret") && !p.stderr.includes("s3cret"), "passwords are never shown");

      await until(() => got.some((m) => m.topic === `xsmqtt/${deviceId}/env`), 5000, () => `a reading on broker B (got ${JSON.stringify(got)})`);
      const reading = got.find((m) => m.topic === `xsmqtt/${deviceId}/env`)!.json;
      assert.equal(typeof reading.t, "number");
      assert.equal(typeof reading.temperature, "number");

      // stored in the settings file, as the device's preferences would be
      assert.deepEqual(provisioned(), {
        qos: "0",
        user: "kitchen",
        pass: "mqtt-s3cret",
        broker: urlB,
        ssid: "lab net",
        wifipass: "wifi-s3cret",
      });
      assert.equal(firmware!.app.config.qos, 0);
      assert.deepEqual(firmware!.app.config.brokers, [{ host: "127.0.0.1", port: brokerB.port }]);
    });

    it("exits 1 with the device's reason when it refuses a value, before the Wi-Fi and broker settings", async () => {
      const p = xsmqtt(["provision", "--port", pair!.b, "--ssid", "x", "--password", "y", "--broker", "mqtt://127.0.0.1:1", "--interval", "5"], running);
      assert.equal(await p.done, 1);
      assert.equal(p.stdout, "");
      assert.equal(p.stderr, "xsmqtt provision: the device refused interval 5: interval must be whole milliseconds, 100 to 86400000\n");
      assert.deepEqual(provisioned(), {}, "nothing was stored");

      const q = xsmqtt(["provision", "--port", pair!.b, "--ssid", "x", "--password", "y", "--broker", "mqtt://127.0.0.1:1", "--device-id", "ok-id", "--qos", "3"], running);
      assert.equal(await q.done, 1);
      assert.equal(q.stderr, "xsmqtt provision: the device refused qos 3: qos must be 0, 1 or 2\n  already stored (not applied): deviceid\n");
      assert.deepEqual(provisioned(), { deviceid: "ok-id" });
      assert.equal(firmware!.app.config.deviceId, deviceId, "not applied");
    });

    it("checks the broker URL, and a password without a user name, before sending anything (exit 2)", async () => {
      const p = xsmqtt(["provision", "--port", pair!.b, "--ssid", "x", "--password", "y", "--broker", "http://127.0.0.1"], running);
      assert.equal(await p.done, 2);
      assert.match(p.stderr, /^xsmqtt provision: --broker: not a broker URL: "http:\/\/127\.0\.0\.1"/);
      const q = xsmqtt(["provision", "--port", pair!.b, "--ssid", "x", "--password", "y", "--broker", "mqtt://127.0.0.1", "--pass", "z"], running);
      assert.equal(await q.done, 2);
      assert.match(q.stderr, /^xsmqtt provision: --pass needs --user/);
      assert.deepEqual(provisioned(), {});
    });
  });

  describe("provision with no device", () => {
    it("times out with a clear message and exit 1", async () => {
      pair = await startPtyPair(path.join(dir, "none-a"), path.join(dir, "none-b"));
      const started = Date.now();
      const p = xsmqtt(["provision", "--port", pair.b, "--ssid", "x", "--password", "y", "--broker", "mqtt://127.0.0.1", "--timeout", "1"], running);
      assert.equal(await p.done, 1);
      assert.equal(p.stderr, `xsmqtt provision: no answer from the device on ${pair.b} (is the firmware running and the baud rate right?)\n`);
      assert.equal(p.stdout, "");
      assert.ok(Date.now() - started < 5000);
    });
  });
});
