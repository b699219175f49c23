/**
 * The firmware on the simulated host board, against mosquitto, on Node and inside XS:
 * readings at the interval, no reading lost through an outage up to the queue budget and
 * an exact drop count beyond it, commands, the retained status and the last will.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import type { BuildConfig } from "../src/app/config.js";
import { startMosquitto, type Mosquitto } from "../tools/runtime/brokers.js";
import { requireMosquitto } from "./needs.js";
import { ENGINES } from "./engines.js";
import { startEngine, type EngineName } from "../tools/runtime/engine.js";
import { appModule } from "../tools/runtime/modules.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The firmware on one engine, driven the same way. */
interface Device {
  start(config: BuildConfig): Promise<void>;
  network(up: boolean): Promise<void>;
  fault(sensor: string, faulty: boolean): Promise<void>;
  line(text: string): Promise<void>;
  stats(): Promise<{
    app: { samples: number; readings: number; sensorErrors: number };
    client: { dropped: number; queued: number };
    journal: { taken: number; dropped: number; queued: number };
  }>;
  console: string[];
  stop(): Promise<void>;
}

async function device(name: EngineName): Promise<Device> {
  const lines: string[] = [];
  const engine = await startEngine(name, appModule(), { onEvent: (e) => e.type === "console" && lines.push(e.line) });
  return {
    console: lines,
    async start(config) {
      await engine.call("start", config, {});
    },
    async network(up) {
      await engine.call("network", up);
    },
    async fault(name, faulty) {
      await engine.call("fault", name, faulty);
    },
    async line(text) {
      await engine.call("line", text);
    },
    async stats() {
      return engine.call("stats");
    },
    async stop() {
      await engine.call("stop").catch(() => undefined);
      await engine.close();
      assert.deepEqual(engine.failures(), []);
    },
  };
}

interface Received {
  topic: string;
  json: any;
  retain: boolean;
  at: number;
}

/** A subscriber (MQTT.js: an independent implementation) recording what the broker delivers. */
async function watch(port: number, filter: string, qos: 0 | 1 | 2 = 1): Promise<{ got: Received[]; client: mqtt.MqttClient }> {
  const got: Received[] = [];
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
  client.on("message", (topic, payload, packet) => got.push({ topic, json: JSON.parse(payload.toString()), retain: packet.retain, at: Date.now() }));
  await client.subscribeAsync(filter, { qos });
  return { got, client };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

let n = 0;
for (const engine of ENGINES) {
  describe(`firmware on the host board (${engine})`, function () {
    this.timeout(30000);
    let mosq: Mosquitto;
    let dev: Device;
    let sub: { got: Received[]; client: mqtt.MqttClient } | null = null;
    let id = "";
    const prefix = "fw";

    before(async function () {
      requireMosquitto(this);
      mosq = await startMosquitto();
    });
    after(async () => mosq?.close());
    beforeEach(async () => {
      id = `dev-${engine}-${process.pid}-${++n}`;
      dev = await device(engine);
      sub = await watch(mosq.port, `${prefix}/${id}/#`);
    });
    afterEach(async () => {
      await dev.stop();
      await sub?.client.endAsync();
    });
    const config = (over: BuildConfig = {}): BuildConfig => ({ deviceId: id, brokers: [`mqtt://127.0.0.1:${mosq.port}`], prefix, interval: 200, qos: 1, ...over });
    const readings = (sensor: string) => sub!.got.filter((r) => r.topic === `${prefix}/${id}/${sensor}`);

    it("publishes a reading per sensor at the configured interval, with sample time and units", async () => {
      await dev.start(config());
      await until(() => readings("env").length >= 6, 5000, "6 env readings");
      const env = readings("env");
      for (const r of env) {
        assert.equal(typeof r.json.t, "number");
        assert.ok(Math.abs(r.json.t - Date.now()) < 10000, "real time");
        assert.ok(r.json.temperature > 15 && r.json.temperature < 30);
        assert.ok(r.json.humidity > 20 && r.json.humidity < 70);
      }
      const gaps = env.slice(2).map((r, i) => r.json.t - env[i + 1].json.t);
      const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
      assert.ok(mean >= 180 && mean <= 260, `mean sample spacing ${mean} ms (interval 200)`);
      for (const g of gaps) assert.ok(g >= 100 && g <= 450, `sample spacing ${g} ms (interval 200)`);
      assert.ok(readings("pressure").length >= 5);
      assert.ok(readings("pressure")[0].json.pressure > 1000);
    });

    it("loses no reading through a network outage within the queue budget", async () => {
      await dev.start(config());
      await until(() => readings("env").length >= 3, 5000, "first readings");
      await dev.network(false);
      await sleep(1500); // about 7 samples taken offline
      await dev.network(true);
      await sleep(300);
      const s = await dev.stats();
      await until(() => readings("env").length >= s.app.samples, 8000, "every sample");
      // QoS 1 may deliver a resent reading twice; each sample counts once
      const times = [...new Set(readings("env").map((r) => r.json.t))];
      assert.equal(s.journal.dropped, 0);
      assert.deepEqual(times, [...times].sort((a, b) => a - b), "in order of sample time");
      // the samples taken offline kept their original times: no gap bigger than about one interval
      // (the count check below is what proves no sample was lost; this catches a stalled sampler)
      for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] < 700, `gap of ${times[i] - times[i - 1]} ms at ${i}`);
      assert.ok(times.length >= s.app.samples, `${times.length} distinct readings for ${s.app.samples} samples`);
    });

    it("at qos 2 delivers every reading exactly once through network outages", async () => {
      await sub!.client.endAsync();
      sub = await watch(mosq.port, `${prefix}/${id}/#`, 2);
      await dev.start(config({ qos: 2 }));
      await until(() => readings("env").length >= 3, 5000, "first readings");
      for (let k = 0; k < 3; k++) {
        await dev.network(false);
        await sleep(400);
        await dev.network(true);
        await sleep(300);
      }
      const s = await dev.stats();
      await until(() => readings("env").length >= s.app.samples, 8000, "every sample");
      await sleep(300);
      const times = readings("env").map((r) => r.json.t);
      assert.equal(new Set(times).size, times.length, "no reading twice");
      assert.deepEqual(times, [...times].sort((a, b) => a - b), "in order of sample time");
      // sampling goes on: every sample taken before the stats arrived, none lost (no gap), none twice
      assert.ok(times.length >= s.app.samples, `${times.length} readings for ${s.app.samples} samples`);
      for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] < 700, `gap of ${times[i] - times[i - 1]} ms at ${i}`);
      assert.equal(s.journal.dropped, 0);
    });

    it("drops the oldest readings beyond the budget and counts them exactly", async () => {
      await dev.start(config({ outboxBytes: 1200 }));
      await until(() => readings("env").length >= 2, 5000, "first readings");
      await dev.network(false);
      await sleep(2500); // far more than 1,200 bytes of readings
      await dev.network(true);
      await until(() => sub!.got.some((r) => r.topic.endsWith("/status") && r.json.state === "online" && r.json.dropped > 0), 8000, "a status that reports drops");
      await sleep(500);
      const s = await dev.stats();
      const j = s.journal;
      // the device samples on: only the readings taken and no longer queued when the stats were
      // read are counted (by sequence number), waiting a moment for the last of them to arrive
      const settled = j.taken - j.queued;
      const got = () => new Set([...readings("env"), ...readings("pressure")].map((r) => r.json.n).filter((n) => n < settled)).size;
      assert.ok(j.dropped > 0, "readings were dropped");
      await until(() => got() + j.dropped >= settled, 3000, "the readings sent before the stats").catch(() => undefined);
      assert.equal(got() + j.dropped, settled, "every reading is received, dropped (counted) or still queued");
      // each reading carries its sequence number: the ones missing are exactly as many as were dropped
      const seen = new Set([...readings("env"), ...readings("pressure")].map((r) => r.json.n));
      let missing = 0;
      for (let n = 0; n < j.taken - j.queued; n++) if (!seen.has(n)) missing++;
      assert.equal(missing, j.dropped, "the gaps in n are the drops");
      const status = sub!.got.filter((r) => r.topic.endsWith("/status") && r.json.state === "online").pop()!;
      assert.ok(status.json.dropped > 0 && status.json.dropped <= j.dropped);
      assert.ok(status.json.taken > 0 && status.json.taken <= j.taken);
      const times = [...new Set(readings("env").map((r) => r.json.t))];
      assert.deepEqual(times, [...times].sort((a, b) => a - b));
    });

    it("changes the interval on command and reports a failing sensor without stopping", async () => {
      await dev.start(config());
      await until(() => readings("env").length >= 2, 5000, "first readings");
      await sub!.client.publishAsync(`${prefix}/${id}/cmd`, JSON.stringify({ cmd: "interval", value: 600 }), { qos: 1 });
      await until(() => sub!.got.some((r) => r.topic.endsWith("/cmd/result") && r.json.cmd === "interval"), 5000, "command result");
      const result = sub!.got.find((r) => r.topic.endsWith("/cmd/result"))!;
      assert.deepEqual(result.json, { cmd: "interval", ok: true, value: 600 });
      const from = readings("env").length;
      await until(() => readings("env").length >= from + 4, 6000, "readings at the new interval");
      const env = readings("env").slice(from + 1);
      for (let i = 1; i < env.length; i++) assert.ok(env[i].json.t - env[i - 1].json.t >= 500, `spacing ${env[i].json.t - env[i - 1].json.t}`);
      await dev.fault("pressure", true);
      await until(() => readings("pressure").some((r) => r.json.error), 3000, "an error reading");
      assert.ok((await dev.stats()).app.sensorErrors >= 1);
      await sub!.client.publishAsync(`${prefix}/${id}/cmd`, JSON.stringify({ cmd: "bogus" }), { qos: 1 });
      await until(() => sub!.got.some((r) => r.topic.endsWith("/cmd/result") && r.json.ok === false), 5000, "refusal");
      await dev.fault("pressure", false);
      const before = readings("env").length;
      await until(() => readings("env").length > before, 3000, "still sampling");
    });

    it("the console takes only real settings (not Object.prototype's keys), checks values, and never echoes a password", async () => {
      await dev.start(config());
      const answer = async (text: string) => {
        const n = dev.console.length;
        await dev.line(text);
        await until(() => dev.console.length > n, 3000, `an answer to "${text}"`);
        return dev.console.slice(n).find((l) => !l.startsWith("#"))!;
      };
      assert.match(await answer("set toString x"), /^error unknown setting "toString"/);
      assert.match(await answer("get constructor"), /^error unknown setting "constructor"/);
      assert.match(await answer("set __proto__ 1"), /^error unknown setting/);
      assert.match(await answer("set sleep -5"), /^error sleep must be whole seconds/);
      assert.equal(await answer("set sleep 30"), "ok sleep");
      assert.equal(await answer("get sleep"), "value sleep 30");
      assert.equal(await answer("set pass s3cret"), "ok pass");
      assert.equal(await answer("get pass"), "value pass ********");
      assert.equal(await answer("keys"), "keys sleep pass", "the firmware's own records (seq, subscribed, ...) are not listed");
    });

    it("restarts once on a restart command at QoS 1 (its PUBACK goes out first, so the session does not deliver it again)", async () => {
      await dev.start(config());
      await until(() => readings("env").length >= 2, 5000, "first readings");
      const boots = () => dev.console.filter((l) => /^# xsmqtt \S+ on /.test(l)).length;
      assert.equal(boots(), 1);
      await sub!.client.publishAsync(`${prefix}/${id}/cmd`, JSON.stringify({ cmd: "restart" }), { qos: 1 });
      await until(() => boots() === 2, 5000, "the restart");
      const from = readings("env").length;
      await sleep(2500); // a redelivered command would restart it again within this
      assert.equal(boots(), 2, "restarted exactly once");
      assert.ok(readings("env").length >= from + 5, "sampling after the restart");
      assert.equal(sub!.got.filter((r) => r.topic.endsWith("/cmd/result") && r.json.cmd === "restart").length, 1);
    });

    it("keeps a retained online status and publishes the offline will when the connection dies", async () => {
      await dev.start(config());
      await until(() => sub!.got.some((r) => r.topic === `${prefix}/${id}/status`), 5000, "status");
      // a late subscriber sees the retained status
      const late = await watch(mosq.port, `${prefix}/${id}/status`);
      try {
        await until(() => late.got.length > 0, 3000, "retained status");
        assert.equal(late.got[0].retain, true);
        assert.equal(late.got[0].json.state, "online");
        assert.equal(late.got[0].json.board, "host");
        assert.equal(late.got[0].json.fw, "0.1.0");
        // the connection dies without DISCONNECT: mosquitto publishes the will
        await dev.network(false);
        await until(() => late.got.some((r) => r.json.state === "offline"), 5000, "the will");
        await dev.network(true);
        await until(() => late.got.filter((r) => r.json.state === "online").length >= 2, 8000, "online again");
      } finally {
        await late.client.endAsync();
      }
    });
  });
}
