/**
 * Battery mode (setting `sleep`): `npm start -- --sleep 1` on both engines against
 * mosquitto, over 5 wake cycles. Each wake is a new boot with only the board's storage
 * (inside XS a new process): sample, connect (persistent session), send, wait for the
 * acknowledgements, status, DISCONNECT, deep sleep. No reading is lost or sent twice; the
 * subscriptions go once; a command sent during a sleep runs at the next wake; the retained
 * status never goes offline and the discovery configs are not sent again; readings of a
 * wake that found no broker go at the next one.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { until } from "./wait.js";
import { startMosquitto, type Mosquitto } from "../tools/runtime/brokers.js";
import { requireMosquitto } from "./needs.js";
import { ENGINES } from "./engines.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const START = path.join(here, "..", "tools", "start.js");

interface Runner {
  child: ChildProcess;
  lines: string[];
  exited: Promise<void>;
  /** Wakes finished (runner lines "wake N took …"). */
  wakes(): { took: number; out: number; in: number }[];
  /** The firmware's own account of each wake ("# awake N ms, connected after M ms"). */
  awake(): { awake: number; connect: number }[];
}

function run(engine: string, args: string[]): Runner {
  const child = spawn(process.execPath, [START, "--engine", engine, ...args], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  const lines: string[] = [];
  let partial = "";
  const take = (d: Buffer) => {
    partial += String(d);
    const parts = partial.split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
  };
  child.stdout!.on("data", take);
  child.stderr!.on("data", take);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    child,
    lines,
    exited,
    wakes: () =>
      lines.flatMap((l) => {
        const m = /runner: wake \d+ took (\d+) ms, (\d+) bytes out and (\d+) in/.exec(l);
        return m ? [{ took: Number(m[1]), out: Number(m[2]), in: Number(m[3]) }] : [];
      }),
    awake: () =>
      lines.flatMap((l) => {
        const m = /# awake (\d+) ms, connected after (\d+) ms/.exec(l);
        return m ? [{ awake: Number(m[1]), connect: Number(m[2]) }] : [];
      }),
  };
}

interface Got {
  topic: string;
  payload: string;
  retain: boolean;
  at: number;
}

for (const engine of ENGINES) {
  describe(`battery mode: deep sleep cycles (npm start --sleep, ${engine})`, function () {
    this.timeout(90000);
    let mosq: Mosquitto | null = null;
    let data = "";
    let brokerDir = "";
    let runner: Runner | null = null;
    let sub: mqtt.MqttClient | null = null;

    before(function () {
      requireMosquitto(this);
    });
    beforeEach(() => {
      data = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-battery-"));
      brokerDir = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-battery-broker-"));
    });
    afterEach(async () => {
      if (runner && runner.child.exitCode === null && runner.child.signalCode === null) runner.child.kill("SIGKILL");
      await runner?.exited;
      runner = null;
      await sub?.endAsync(true);
      sub = null;
      await mosq?.close();
      mosq = null;
      fs.rmSync(data, { recursive: true, force: true });
      fs.rmSync(brokerDir, { recursive: true, force: true });
    });

    const broker = (port?: number) =>
      startMosquitto({ dir: brokerDir, port, persistence: true, config: ["log_type all", `log_dest file ${brokerDir}/broker.log`] });
    /** SUBSCRIBE packets mosquitto received from `id`. */
    const subscribes = (id: string) => (fs.readFileSync(path.join(brokerDir, "broker.log"), "utf8").match(new RegExp(`Received SUBSCRIBE from ${id}\\b`, "g")) ?? []).length;

    async function watch(port: number, id: string): Promise<Got[]> {
      const got: Got[] = [];
      sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 200 });
      sub.on("message", (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain, at: Date.now() }));
      const filters = [`bt/${id}/#`, `homeassistant/sensor/${id}/+/config`];
      sub.on("connect", () => void sub!.subscribe(filters, { qos: 1 }));
      await sub.subscribeAsync(filters, { qos: 1 });
      return got;
    }

    it("5 wakes: no reading lost or twice, subscriptions sent once, a command sent during a sleep runs at the next wake, no churn", async () => {
      mosq = await broker();
      const id = `bat-${engine}-${process.pid}`;
      const got = await watch(mosq.port, id);
      runner = run(engine, ["--broker", `mqtt://127.0.0.1:${mosq.port}`, "--device-id", id, "--data", data, "--prefix", "bt", "--sleep", "1"]);
      const r = runner;
      await until(() => r.wakes().length >= 2, 30000, "two wakes");
      // asleep now (the runner has just ended wake 2): a command for the next wake
      const sentAt = Date.now();
      await sub!.publishAsync(`bt/${id}/cmd`, JSON.stringify({ cmd: "sample" }), { qos: 1 });
      await until(() => r.wakes().length >= 5, 30000, "five wakes");
      r.child.kill("SIGTERM");
      await r.exited;

      const readings = got.filter((g) => g.topic === `bt/${id}/env` || g.topic === `bt/${id}/pressure`);
      const ns = readings.map((g) => JSON.parse(g.payload).n).sort((a, b) => a - b);
      // a sample per wake (2 readings) and one more sample for the command
      assert.deepEqual(
        ns,
        Array.from({ length: 12 }, (_, i) => i),
        "every reading once",
      );
      const result = got.find((g) => g.topic === `bt/${id}/cmd/result`);
      assert.ok(result, "the command ran");
      assert.deepEqual(JSON.parse(result.payload), { cmd: "sample", ok: true });
      assert.ok(result.at > sentAt);
      assert.equal(subscribes(id), 2, "SUBSCRIBE at the first wake only (one a filter: cmd and the discovery status, each with its Subscription Identifier): the session keeps them");
      const statuses = got.filter((g) => g.topic === `bt/${id}/status`).map((g) => JSON.parse(g.payload));
      assert.equal(statuses.filter((s) => s.state === "offline").length, 0, "the will never fired: each wake ends with a DISCONNECT");
      assert.equal(statuses.filter((s) => s.state === "online").length, 5, "one status a wake");
      assert.deepEqual(
        statuses.map((s) => s.wake),
        ["power-on", "timer", "timer", "timer", "timer"],
      );
      const configs = got.filter((g) => g.topic.startsWith(`homeassistant/sensor/${id}/`));
      assert.equal(configs.length, 3, "the 3 configs once, at the power-on wake");
      for (const c of configs) assert.equal(JSON.parse(c.payload).expire_after, 60, "three sleeps of 1 s, at least a minute");

      // awake time per wake: connect, then a round trip for the readings and one for the status
      const awake = r.awake();
      assert.equal(awake.length, 5);
      const wakes = r.wakes();
      const perReading = wakes.slice(1).map((w) => (w.out + w.in) / 2);
      console.log(
        `      ${engine}: awake ${awake.map((a) => `${a.awake} ms (connected after ${a.connect})`).join(", ")}; ` +
          `runner wake to sleep ${wakes.map((w) => w.took).join("/")} ms; wire ${wakes.map((w) => `${w.out}+${w.in}`).join(", ")} bytes a wake, ${Math.max(...perReading)} per reading after the first wake`,
      );
      for (const a of awake.slice(1)) assert.ok(a.awake - a.connect < 300, `awake ${a.awake} ms of which ${a.awake - a.connect} after the CONNACK`);
    });

    it("a wake that finds no broker sleeps after its awake limit, and its readings go out at the next wake", async () => {
      mosq = await broker();
      const port = mosq.port;
      const id = `batout-${engine}-${process.pid}`;
      const got = await watch(port, id);
      runner = run(engine, ["--broker", `mqtt://127.0.0.1:${port}`, "--device-id", id, "--data", data, "--prefix", "bt", "--sleep", "1", "--awake", "1500"]);
      const r = runner;
      await until(() => r.wakes().length >= 2, 30000, "two wakes");
      await mosq.close(); // saves its sessions
      mosq = null;
      await until(() => r.wakes().length >= 4, 30000, "two wakes without a broker");
      assert.ok(r.lines.some((l) => /not done within 1500 ms/.test(l)), "it slept at its limit");
      mosq = await broker(port);
      await until(() => r.wakes().length >= 6, 30000, "two wakes with the broker back");
      r.child.kill("SIGTERM");
      await r.exited;
      const ns = got.filter((g) => /\/(env|pressure)$/.test(g.topic)).map((g) => JSON.parse(g.payload).n);
      const distinct = [...new Set(ns)].sort((a, b) => a - b);
      assert.deepEqual(
        distinct,
        Array.from({ length: 12 }, (_, i) => i),
        "the readings of the wakes without a broker arrived later",
      );
      assert.equal(ns.length, distinct.length, "none twice");
      assert.equal(subscribes(id), 2, "the session (saved by mosquitto) kept the subscriptions (one SUBSCRIBE a filter)");
    });
  });
}
