/**
 * The firmware's MQTT version (issue 11, firmware part), on Node and inside XS: protocol
 * "auto" speaks 5.0 to mosquitto (readings under Topic Aliases, the session expiry from the
 * setting, a command carrying a Response Topic answered there with its Correlation Data) and
 * falls back to 3.1.1 where a broker refuses 5.0: aedes (a 3.1.1 broker, which closes or
 * answers 0x01), and a scripted broker answering a 5.0 CONNECT with 0x84. The fallback is
 * remembered for the broker until restart; "3.1.1" never tries 5.0.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import type { BuildConfig } from "../src/app/config.js";
import { startAedes, startMosquitto, type AedesBroker, type Mosquitto } from "../tools/runtime/brokers.js";
import { requireMosquitto } from "./needs.js";
import { ENGINES } from "./engines.js";
import { FakeBroker } from "./fake-broker.js";
import { startEngine, type EngineName } from "../tools/runtime/engine.js";
import { appModule } from "../tools/runtime/modules.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

async function device(name: EngineName) {
  const lines: string[] = [];
  const engine = await startEngine(name, appModule(), { onEvent: (e) => e.type === "console" && lines.push(e.line) });
  return {
    console: lines,
    start: (config: BuildConfig, settings: Record<string, string> = {}) => engine.call("start", config, settings),
    network: (up: boolean) => engine.call("network", up),
    stats: () => engine.call("stats") as Promise<any>,
    async stop() {
      await engine.call("stop").catch(() => undefined);
      await engine.close();
      assert.deepEqual(engine.failures(), []);
    },
  };
}
type Device = Awaited<ReturnType<typeof device>>;

let n = 0;
for (const engine of ENGINES) {
  describe(`firmware, MQTT version (${engine})`, function () {
    this.timeout(30000);
    let dev: Device | null = null;
    let watcher: mqtt.MqttClient | null = null;
    let id = "";
    const prefix = "fw5";
    beforeEach(() => {
      id = `dev5-${engine}-${process.pid}-${++n}`;
    });
    afterEach(async () => {
      await dev?.stop();
      dev = null;
      await watcher?.endAsync();
      watcher = null;
    });
    const config = (port: number, over: BuildConfig = {}): BuildConfig => ({ deviceId: id, brokers: [`mqtt://127.0.0.1:${port}`], prefix, interval: 200, qos: 1, discovery: "off", ...over });
    const refusals = () => dev!.console.filter((l) => /refused MQTT 5\.0/.test(l));

    describe("against mosquitto", () => {
      let mosq: Mosquitto;
      before(async function () {
        requireMosquitto(this);
        mosq = await startMosquitto();
      });
      after(async () => mosq?.close());

      it('"auto" speaks 5.0: readings arrive, the session expiry is the setting, a command with a Response Topic is answered there', async () => {
        const got: { topic: string; payload: string; properties: any }[] = [];
        watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${mosq.port}`, { protocolVersion: 5, reconnectPeriod: 0 });
        watcher.on("message", (topic, payload, packet: any) => got.push({ topic, payload: payload.toString(), properties: packet.properties }));
        await watcher.subscribeAsync([`${prefix}/${id}/#`, "fw5-replies/#"], { qos: 1 });
        dev = await device(engine);
        await dev.start(config(mosq.port), { sessionexpiry: "120" });
        await until(() => got.filter((g) => g.topic === `${prefix}/${id}/env`).length >= 3, 8000, "3 env readings");
        const s = await dev.stats();
        assert.equal(s.client.protocolVersion, 5);
        assert.equal(refusals().length, 0);
        // request/response: the result at the Response Topic, with the Correlation Data; none at cmd/result
        await watcher.publishAsync(`${prefix}/${id}/cmd`, JSON.stringify({ cmd: "status" }), {
          qos: 1,
          properties: { responseTopic: `fw5-replies/${id}`, correlationData: Buffer.from("req-42") },
        });
        await until(() => got.some((g) => g.topic === `fw5-replies/${id}`), 5000, "the reply");
        const reply = got.find((g) => g.topic === `fw5-replies/${id}`)!;
        assert.deepEqual(JSON.parse(reply.payload), { cmd: "status", ok: true });
        assert.equal(Buffer.from(reply.properties.correlationData).toString(), "req-42");
        // without a Response Topic: cmd/result as under 3.1.1
        await watcher.publishAsync(`${prefix}/${id}/cmd`, JSON.stringify({ cmd: "sample" }), { qos: 1 });
        await until(() => got.some((g) => g.topic === `${prefix}/${id}/cmd/result`), 5000, "cmd/result");
        assert.equal(got.filter((g) => g.topic === `${prefix}/${id}/cmd/result`).length, 1, "the first command's result went only to its Response Topic");
        // the session outlives the connection for the 120 s asked: mosquitto still holds it
        await dev.stop();
        dev = null;
        const probe = mqtt.connect(`mqtt://127.0.0.1:${mosq.port}`, { protocolVersion: 5, clientId: id, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 0 } });
        const sessionPresent = await new Promise<boolean>((r, j) => {
          probe.once("connect", (connack: any) => r(connack.sessionPresent));
          probe.once("error", j);
        });
        await probe.endAsync();
        assert.equal(sessionPresent, true, "mosquitto kept the device's session");
      });
    });

    describe("against aedes (3.1.1 only)", () => {
      let aedes: AedesBroker;
      before(async () => {
        aedes = await startAedes();
      });
      after(async () => aedes?.close());

      it('"auto" falls back to 3.1.1, delivers the readings, and keeps 3.1.1 for that broker until restart', async () => {
        const got: string[] = [];
        const statuses: { state: string; lastError?: string }[] = [];
        watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${aedes.port}`, { reconnectPeriod: 0 });
        watcher.on("message", (topic, payload) => {
          got.push(topic);
          if (topic.endsWith("/status")) statuses.push(JSON.parse(payload.toString()));
        });
        await watcher.subscribeAsync(`${prefix}/${id}/#`, { qos: 1 });
        dev = await device(engine);
        await dev.start(config(aedes.port));
        await until(() => got.filter((t) => t.endsWith("/env")).length >= 3, 10000, "3 env readings through aedes");
        assert.equal(refusals().length, 1, dev.console.join("\n"));
        // the fallback is said once, as such: not an error line, not the status's lastError
        assert.ok(!dev.console.some((l) => /mqtt (ConnectionRefused|NoConnack)/.test(l)), dev.console.join("\n"));
        const online = statuses.filter((st) => st.state === "online");
        assert.ok(online.length > 0 && online.every((st) => st.lastError === undefined), JSON.stringify(statuses));
        assert.equal((await dev.stats()).client.protocolVersion, 4);
        // an outage: the client reconnects in 3.1.1 without trying 5.0 again
        await dev.network(false);
        await sleep(300);
        await dev.network(true);
        const before = got.length;
        await until(() => got.length >= before + 3, 10000, "readings after the outage");
        assert.equal(refusals().length, 1, "no second 5.0 attempt");
        assert.equal((await dev.stats()).client.protocolVersion, 4);
        // a restart forgets it: the next start tries 5.0 first again
        await dev.stop();
        dev = await device(engine);
        await dev.start(config(aedes.port));
        await until(() => refusals().length === 1, 8000, "the 5.0 attempt after restart");
        await until(() => dev!.console.some((l) => /mqtt connected/.test(l)), 8000, "connected in 3.1.1");
      });

      it('"3.1.1" never tries 5.0; "5" never falls back', async () => {
        dev = await device(engine);
        await dev.start(config(aedes.port), { protocol: "3.1.1" });
        await until(() => dev!.console.some((l) => /mqtt connected/.test(l)), 8000, "connected");
        assert.equal(refusals().length, 0);
        assert.equal((await dev.stats()).client.protocolVersion, 4);
        await dev.stop();
        dev = await device(engine);
        await dev.start(config(aedes.port), { protocol: "5" });
        await sleep(2500);
        assert.equal(refusals().length, 0);
        const s = await dev.stats();
        assert.equal(s.client.protocolVersion, 5);
        assert.equal(s.client.connected, false, "aedes does not take 5.0");
      });
    });

    describe("against a scripted broker", () => {
      let fake: FakeBroker;
      beforeEach(async () => {
        fake = await FakeBroker.start();
      });
      afterEach(async () => fake?.close());

      it('"auto" falls back on a 5.0 CONNACK 0x84 (Unsupported Protocol Version)', async () => {
        fake.connack = (conn) => (conn.version === 5 ? { returnCode: 0x84, properties: { reasonString: "3.1.1 only here" } } : { returnCode: 0 });
        dev = await device(engine);
        await dev.start(config(fake.port));
        await fake.until(() => fake.of("publish").length >= 2, 8000, "readings in 3.1.1");
        const versions = fake.of("connect").map((r) => r.packet.protocolVersion);
        assert.deepEqual(versions.slice(0, 2), [5, 4]);
        assert.ok(versions.slice(1).every((v) => v === 4));
        assert.match(refusals()[0], /Unsupported Protocol Version.*3\.1\.1 only here/);
      });

      it('"auto" under 5.0: readings go under Topic Aliases once a topic repeats', async () => {
        fake.connack = () => ({ returnCode: 0, properties: { topicAliasMaximum: 10 } });
        dev = await device(engine);
        await dev.start(config(fake.port, { qos: 0 }));
        await fake.until(() => fake.of("publish").filter((r) => r.packet.properties?.topicAlias).length >= 8, 8000, "aliased readings");
        const env = fake.of("publish").filter((r) => r.packet.topic === `${prefix}/${id}/env` || (r.packet.topic === "" && r.packet.properties?.topicAlias));
        const first = fake.of("publish").filter((r) => r.packet.topic === `${prefix}/${id}/env`).map((r) => r.packet.properties?.topicAlias ?? 0);
        assert.equal(first.length, 2, "the topic goes whole twice: alone, then with its alias");
        assert.equal(first[0], 0);
        assert.ok(first[1] > 0);
        assert.ok(env.length > 2);
        assert.equal(fake.of("connect")[0].packet.properties.sessionExpiryInterval, 86400, "the default session expiry");
      });

      it('"auto" keeps 5.0 when the refusal is not about the version', async () => {
        fake.connack = (conn) => (fake.of("connect").length === 1 ? { returnCode: 0x88 } : { returnCode: 0 });
        dev = await device(engine);
        await dev.start(config(fake.port));
        await fake.until(() => fake.of("connect").length >= 2, 8000, "a retry");
        assert.deepEqual(fake.of("connect").map((r) => r.packet.protocolVersion).slice(0, 2), [5, 5]);
        assert.equal(refusals().length, 0);
      });
    });
  });
}
