/**
 * The interop matrix (issue 11, part 7): the client against MQTT's reference brokers and
 * the Erlang brokers that stand in for EMQX, on both engines, each broker started once
 * for the suite from its package with a generated config on a free loopback port:
 * mosquitto (3.1.1 and 5.0), aedes (3.1.1; a 5.0 CONNECT refused), ejabberd's mod_mqtt
 * (3.1.1 and 5.0) and RabbitMQ's MQTT plugin (3.1.1; it grants QoS 1 for QoS 2 and answers
 * a QoS 2 PUBLISH with PUBACK; a 5.0 CONNECT is closed). Rows: connect; QoS 0, 1 and 2
 * through a wildcard subscription; retained; the will; a persistent session resumed.
 */
import assert from "node:assert/strict";
import { startAedes, startMosquitto, type Broker } from "../tools/runtime/brokers.js";
import { erlangBrokersMissing, startEjabberd, startRabbitMq } from "../tools/runtime/erlang-brokers.js";
import { mosquittoPath } from "../tools/runtime/brokers.js";
import { openClientEngine, type ClientEngine } from "./client/harness.js";
import { ENGINES } from "./engines.js";

const text = (hex: string) => Buffer.from(hex, "hex").toString();
const hex = (s: string) => Buffer.from(s).toString("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Target {
  name: string;
  start: () => Promise<Broker>;
  versions: (4 | 5)[];
  /** The QoS the broker grants for a QoS 2 subscription. */
  maxQos: number;
  /** How it refuses a 5.0 CONNECT, when it does. */
  refuses5?: string[];
  /** ejabberd's anonymous login wants a user name and a password (any). */
  username?: string;
  /** What needs installing, or null. */
  missing: () => string | null;
}

const TARGETS: Target[] = [
  { name: "mosquitto", start: () => startMosquitto(), versions: [4, 5], maxQos: 2, missing: () => (mosquittoPath() ? null : "mosquitto is not installed") },
  { name: "aedes", start: () => startAedes(), versions: [4], maxQos: 2, refuses5: ["ConnectionRefused", "NoConnack"], missing: () => null },
  { name: "ejabberd", start: () => startEjabberd(), versions: [4, 5], maxQos: 2, username: "xsmqtt", missing: erlangBrokersMissing },
  { name: "rabbitmq", start: () => startRabbitMq(), versions: [4], maxQos: 1, refuses5: ["NoConnack", "ConnectionRefused"], missing: erlangBrokersMissing },
];

let n = 0;
describe("interop matrix", function () {
  this.timeout(90000);
  for (const target of TARGETS) {
    describe(target.name, () => {
      let broker: Broker | null = null;
      before(async function () {
        const why = target.missing();
        if (why) {
          if (process.env.CI) throw new Error(`${why}; CI must run the interop matrix`);
          return this.skip();
        }
        broker = await target.start();
      });
      after(async () => broker?.close());

      for (const engineName of ENGINES) {
        describe(`on ${engineName}`, () => {
          let engine: ClientEngine;
          beforeEach(async () => {
            engine = await openClientEngine(engineName);
          });
          afterEach(async () => {
            await engine.close();
            assert.deepEqual(engine.failures(), []);
          });
          const base = (version: 4 | 5, id: string) => ({
            clientId: id,
            brokers: [{ host: "127.0.0.1", port: broker!.port }],
            protocolVersion: version,
            reconnect: { min: 200, max: 1000, jitter: 0 },
            // anonymous login: any user name and password
            ...(target.username ? { username: target.username, password: hex("anonymous") } : {}),
          });
          const connected = (c: string, count = 1) => engine.log.waitCount((e) => e.type === "connect" && e.client === c, count, 10000, `${c} connect #${count}`);
          const uid = (what: string) => `xi-${target.name}-${engineName}-${what}-${process.pid}-${++n}`;

          for (const version of target.versions) {
            const v = version === 5 ? "5.0" : "3.1.1";
            it(`${v}: QoS 0, 1 and 2 through a wildcard subscription, in order, once`, async () => {
              const root = uid("q");
              const sub = `${root}-s`;
              await engine.call("create", sub, base(version, sub));
              await engine.call("subscribe", sub, `${root}/+/q`, 2);
              await engine.call("connect", sub);
              const ack = await engine.log.waitFor((e) => e.type === "suback" && e.client === sub, 10000, "SUBACK");
              assert.equal(ack.granted, target.maxQos, `granted QoS ${ack.granted}`);
              const pub = `${root}-p`;
              await engine.call("create", pub, base(version, pub));
              await engine.call("connect", pub);
              await connected(pub);
              for (const q of [0, 1, 2]) await engine.call("publishMany", pub, `${root}/${q}/q`, `m${q}-`, 0, 3, { qos: q });
              await engine.log.waitCount((e) => e.type === "delivered" && e.client === pub, 9, 10000, "9 delivered");
              const msgs = await engine.log.waitCount((e) => e.type === "message" && e.client === sub, 9, 10000, "9 messages");
              await sleep(100);
              for (const q of [0, 1, 2]) {
                const got = engine.log.of("message", sub).filter((m) => m.topic === `${root}/${q}/q`);
                assert.deepEqual(got.map((m) => text(m.payload)), [0, 1, 2].map((i) => `m${q}-${i}`), `QoS ${q}: in order, once`);
              }
              assert.equal(msgs.length, 9);
              const st = (await engine.call("stats", pub)) as any;
              assert.deepEqual([st.inflight, st.queued, st.protocolErrors, st.connectionLosses], [0, 0, 0, 0]);
              // RabbitMQ answers a QoS 2 PUBLISH with PUBACK: taken at QoS 1, counted
              assert.equal(st.qos2AsQos1, target.maxQos < 2 ? 3 : 0);
            });

            it(`${v}: a retained message reaches a later subscriber, flagged retained`, async () => {
              const root = uid("r");
              const pub = `${root}-p`;
              await engine.call("create", pub, base(version, pub));
              await engine.call("connect", pub);
              await connected(pub);
              await engine.call("publish", pub, `${root}/r`, { text: "kept" }, { qos: 1, retain: true });
              await engine.log.waitFor((e) => e.type === "delivered" && e.client === pub, 10000, "stored");
              const sub = `${root}-s`;
              await engine.call("create", sub, base(version, sub));
              await engine.call("subscribe", sub, `${root}/r`, 1);
              await engine.call("connect", sub);
              const m = await engine.log.waitFor((e) => e.type === "message" && e.client === sub, 10000, "the retained message");
              assert.deepEqual([text(m.payload), m.retain], ["kept", true]);
              await engine.call("publish", pub, `${root}/r`, { text: "" }, { qos: 1, retain: true });
              await engine.log.waitCount((e) => e.type === "delivered" && e.client === pub, 2, 10000, "cleared");
            });

            it(`${v}: the will goes out when the connection ends without a clean DISCONNECT`, async () => {
              const root = uid("w");
              const sub = `${root}-s`;
              await engine.call("create", sub, base(version, sub));
              await engine.call("subscribe", sub, `${root}/w/#`, 1);
              await engine.call("connect", sub);
              await engine.log.waitFor((e) => e.type === "suback" && e.client === sub, 10000, "SUBACK");
              const dev = `${root}-d`;
              await engine.call("create", dev, { ...base(version, dev), will: { topic: `${root}/w/${dev}`, payload: hex("offline"), qos: 1, retain: false } });
              await engine.call("connect", dev);
              await connected(dev);
              // 3.1.1: closed without DISCONNECT; 5.0: DISCONNECT 0x04, with the will
              await engine.call("close", dev, 0x04);
              const m = await engine.log.waitFor((e) => e.type === "message" && e.client === sub, 10000, "the will");
              assert.deepEqual([m.topic, text(m.payload)], [`${root}/w/${dev}`, "offline"]);
            });

            it(`${v}: a persistent session resumes with what was sent while away`, async () => {
              const root = uid("p");
              const id = `${root}-d`;
              const opts = { ...base(version, id), clean: false, ...(version === 5 ? { sessionExpiry: 120 } : {}) };
              await engine.call("create", id, opts);
              await engine.call("subscribe", id, `${root}/s`, 1);
              await engine.call("connect", id);
              await engine.log.waitFor((e) => e.type === "suback" && e.client === id, 10000, "SUBACK");
              await engine.call("close", id);
              await sleep(200);
              const pub = `${root}-p`;
              await engine.call("create", pub, base(version, pub));
              await engine.call("connect", pub);
              await connected(pub);
              await engine.call("publishMany", pub, `${root}/s`, "s", 0, 3, { qos: 1 });
              await engine.log.waitCount((e) => e.type === "delivered" && e.client === pub, 3, 10000, "3 delivered");
              const again = `${id}-again`;
              await engine.call("create", again, { ...opts, clientId: id });
              await engine.call("connect", again);
              const [c] = await connected(again);
              assert.equal(c.sessionPresent, true, "the session was kept");
              const msgs = await engine.log.waitCount((e) => e.type === "message" && e.client === again, 3, 10000, "the 3 sent while away");
              assert.deepEqual(msgs.map((m) => text(m.payload)), ["s0", "s1", "s2"]);
            });
          }

          if (target.refuses5)
            it("5.0: refused as a 3.1.1 broker refuses it (the firmware's 'auto' falls back on this)", async () => {
              const id = uid("v5");
              await engine.call("create", id, base(5, id));
              await engine.call("connect", id);
              const e = await engine.log.waitFor((x) => x.type === "error" && x.client === id, 15000, "the refusal");
              assert.ok(target.refuses5!.includes(e.code), `${e.code}: ${e.message}`);
              if (e.code === "ConnectionRefused") assert.equal(e.returnCode, 1);
              assert.equal(engine.log.of("connect", id).length, 0);
            });
        });
      }
    });
  }
});
