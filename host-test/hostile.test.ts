/**
 * Hostile input. Real sessions are recorded from aedes and mosquitto through the fault
 * proxy (what each broker sent our client: CONNACK with and without a session, SUBACK
 * including a refusal, PUBLISH QoS 0/1/2, retained, a payload larger than the receive
 * buffer, PUBACK, PUBREL, UNSUBACK, PINGRESP), then mutated and fed to clients over an
 * in-memory transport and a manual clock (client/fuzz-ops.ts). The same cases run on Node
 * and in XS and must give the same summary. API misuse ends in typed errors with nothing
 * written.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { MqttClient, type ClientOptions } from "../src/mqtt/client.js";
import { nodePlatform } from "../src/platform/node/index.js";
import { mosquittoPath, startAedes, startMosquitto, type Broker } from "../tools/runtime/brokers.js";
import * as ops from "./client/fuzz-ops.js";
import type { FuzzSummary } from "./client/fuzz-ops.js";
import { ENGINES, openEngine, type Engine } from "./engines.js";
import { FaultProxy } from "./fault-proxy.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SEED = Number(process.env.XSMQTT_FUZZ_SEED ?? 0x5eed);
/** Cases per engine: at least 50,000 on Node, a bounded share in XS. */
const CASES: Record<string, number> = {
  node: Number(process.env.XSMQTT_FUZZ_CASES ?? 50000),
  xs: Number(process.env.XSMQTT_FUZZ_CASES_XS ?? 10000),
};
const BATCH = 2500;

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Runs `script` with one of our clients connected to `port`; returns nothing, the proxy keeps the bytes. */
async function withClient(port: number, options: Partial<ClientOptions>, script: (c: MqttClient, state: { subacks: number; messages: number; delivered: number }) => Promise<void>): Promise<void> {
  const state = { subacks: 0, messages: 0, delivered: 0, connects: 0 };
  const c = new MqttClient(
    {
      clientId: "rec",
      brokers: [{ host: "127.0.0.1", port }],
      reconnect: { min: 5000 },
      onConnect: () => void state.connects++,
      onMessage: () => void state.messages++,
      onDelivered: () => void state.delivered++,
      ...options,
    },
    nodePlatform(),
  );
  try {
    await script(c, state);
  } finally {
    c.close();
  }
}

/** Records broker-to-client streams, one per connection, as hex. */
async function record(broker: Broker, name: string, deny: boolean): Promise<string[]> {
  const proxy = await FaultProxy.start(broker.port);
  proxy.record = true;
  const other = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: `${name}-o`, reconnectPeriod: 0 });
  try {
    // a live session: subscriptions (one refused on aedes), QoS 0/1/2 in, a large payload,
    // a retained message, our own QoS 1 publishes, an unsubscribe and a keepalive ping
    await withClient(proxy.port, { clientId: `${name}-a`, keepalive: 1 }, async (c, s) => {
      await other.publishAsync("fz/retained", "kept", { qos: 1, retain: true });
      c.subscribe("fz/#", { qos: 2, done: () => void s.subacks++ });
      c.subscribe("fz/q1", { qos: 1, done: () => void s.subacks++ });
      if (deny) c.subscribe("fz/deny", { qos: 0, done: () => void s.subacks++ });
      c.connect();
      await until(() => s.subacks >= (deny ? 3 : 2), 5000, "SUBACKs");
      c.publish("fz/a", "hello", { qos: 0 });
      for (let i = 0; i < 3; i++) c.publish("fz/q1", `q1-${i}`, { qos: 1 });
      c.publish("fz/big", new Uint8Array(600).map((_, i) => i & 0xff), { qos: 1 });
      await other.publishAsync("fz/q2", "exactly once", { qos: 2 });
      await other.publishAsync("fz/q2", "twice", { qos: 2 });
      await until(() => s.delivered >= 4 && s.messages >= 8, 5000, "messages");
      c.unsubscribe("fz/q1");
      await sleep(1300); // a PINGREQ/PINGRESP at keepalive 1 s
    });
    // a persistent session: queued messages arrive behind a CONNACK with session present
    await withClient(proxy.port, { clientId: `${name}-p`, clean: false }, async (c, s) => {
      c.subscribe("fz/persist", { qos: 1, done: () => void s.subacks++ });
      c.connect();
      await until(() => s.subacks >= 1, 5000, "SUBACK");
    });
    for (let i = 0; i < 3; i++) await other.publishAsync("fz/persist", `queued-${i}`, { qos: 1 });
    await withClient(proxy.port, { clientId: `${name}-p`, clean: false }, async (c, s) => {
      c.connect();
      await until(() => s.messages >= 3, 5000, "queued messages");
      await sleep(50);
    });
    await sleep(50);
  } finally {
    await other.endAsync();
    await proxy.close();
  }
  return proxy.sessions.map((r) => Buffer.concat(r.down).toString("hex")).filter((h) => h.length > 0);
}

describe("hostile input", function () {
  this.timeout(60000);
  let sessions: string[] = [];
  const reference = new Map<string, FuzzSummary>();

  before(async function () {
    const aedes = await startAedes();
    aedes.aedes.authorizeSubscribe = (_client: unknown, sub: { topic: string }, done: (e: null, s: unknown) => void) => done(null, sub.topic === "fz/deny" ? null : sub);
    try {
      sessions.push(...(await record(aedes, "ae", true)));
    } finally {
      await aedes.close();
    }
    if (mosquittoPath()) {
      const mosq = await startMosquitto();
      try {
        sessions.push(...(await record(mosq, "mq", false)));
      } finally {
        await mosq.close();
      }
    } else if (process.env.CI) throw new Error("mosquitto is not installed; CI must record its sessions too");
    assert.ok(sessions.length >= 3, `recorded ${sessions.length} sessions`);
  });

  it("recorded sessions hold every packet type a broker sends", () => {
    const firsts = new Set<number>();
    let sessionPresent = false;
    let refusedSubscription = false;
    for (const h of sessions) {
      const b = Buffer.from(h, "hex");
      for (let i = 0; i < b.length; ) {
        let n = 0;
        let mul = 1;
        let k = i + 1;
        for (; ; k++) {
          n += (b[k] & 0x7f) * mul;
          mul *= 128;
          if ((b[k] & 0x80) === 0) break;
        }
        const body = b.subarray(k + 1, k + 1 + n);
        firsts.add(b[i] >> 4 === 3 ? 0x30 | (b[i] & 6) : b[i]);
        if (b[i] === 0x20 && body[0] === 1) sessionPresent = true;
        if (b[i] === 0x90 && body.subarray(2).includes(0x80)) refusedSubscription = true;
        i = k + 1 + n;
      }
    }
    // CONNACK, PUBLISH QoS 0/1/2, PUBACK, PUBREL, SUBACK, UNSUBACK, PINGRESP
    for (const b of [0x20, 0x30, 0x32, 0x34, 0x40, 0x62, 0x90, 0xb0, 0xd0]) assert.ok(firsts.has(b), `a packet starting 0x${b.toString(16)}`);
    assert.ok(sessionPresent, "a CONNACK with session present");
    assert.ok(refusedSubscription, "a refused subscription");
  });

  for (const engineName of ENGINES) {
    describe(`on ${engineName}`, () => {
      let engine: Engine;
      before(async () => {
        engine = await openEngine(engineName, ops as unknown as Record<string, unknown>, "client/fuzz-xs-entry.js");
      });
      after(async () => engine?.close());

      it("replays every recorded session, whole and byte by byte, without an error", async () => {
        for (const s of sessions) {
          const r = await engine.call<{ connected: boolean[]; messages: number[]; errors: string[] }>("replay", s);
          assert.deepEqual(r.errors, []);
          assert.deepEqual(r.connected, [true, true]);
          assert.equal(r.messages[0], r.messages[1], "the same messages whatever the chunking");
        }
      });

      it(`survives ${CASES[engineName]} mutated sessions: normal processing or a clean protocol-error disconnect and reconnect`, async function () {
        this.timeout(120000);
        const total = CASES[engineName];
        const sum: FuzzSummary = { cases: 0, normal: 0, protocolErrors: 0, refused: 0, otherErrors: 0, recovered: 0, messages: 0, bytesFed: 0, staleEvents: 0, codes: {}, otherCodes: {}, failures: [] };
        const started = Date.now();
        for (let first = 0; first < total; first += BATCH) {
          const n = Math.min(BATCH, total - first);
          const part = await engine.call<FuzzSummary>("fuzz", sessions, SEED, first, n);
          // the same cases give the same results on both engines
          const key = `${first}:${n}`;
          if (reference.has(key)) assert.deepEqual(part, reference.get(key), `cases ${key} differ between engines`);
          else reference.set(key, part);
          for (const k of ["cases", "normal", "protocolErrors", "refused", "otherErrors", "recovered", "messages", "bytesFed", "staleEvents"] as const) sum[k] += part[k];
          for (const [c, v] of Object.entries(part.codes)) sum.codes[c] = (sum.codes[c] ?? 0) + v;
          for (const [c, v] of Object.entries(part.otherCodes)) sum.otherCodes[c] = (sum.otherCodes[c] ?? 0) + v;
          sum.failures.push(...part.failures);
          if (sum.failures.length > 0) break;
        }
        console.log(
          `      fuzz on ${engineName} (seed ${SEED}): ${sum.cases} cases in ${Date.now() - started} ms; ${sum.normal} normal, ${sum.protocolErrors} protocol errors, ` +
            `${sum.refused} refused, ${sum.otherErrors} other typed ends; ${sum.recovered} reconnected and usable; ${sum.messages} messages dispatched, ` +
            `${sum.bytesFed} bytes fed, ${sum.staleEvents} stale transport events ignored\n      protocol codes ${JSON.stringify(sum.codes)}\n      other codes ${JSON.stringify(sum.otherCodes)}`,
        );
        assert.deepEqual(sum.failures, []);
        assert.equal(sum.cases, total);
        assert.equal(sum.normal + sum.protocolErrors + sum.refused + sum.otherErrors, total);
        // the fuzz reaches both outcomes, and most decoder rules
        assert.ok(sum.normal > 0 && sum.protocolErrors > 0 && sum.recovered > 0 && sum.staleEvents > 0);
        assert.ok(Object.keys(sum.codes).length >= 10, `protocol codes seen: ${Object.keys(sum.codes)}`);
      });

      it("API misuse: typed errors, nothing sent, the client stays usable; after close everything is Closed", async () => {
        const r = await engine.call<ReturnType<typeof ops.misuse>>("misuse");
        const expected: Record<string, string> = {
          "publish wildcard +": "InvalidTopic",
          "publish wildcard #": "InvalidTopic",
          "publish empty topic": "InvalidTopic",
          "publish topic with U+0000": "InvalidTopic",
          "publish topic with a lone surrogate": "InvalidTopic",
          "publish topic over 65535 bytes": "InvalidTopic",
          "publish topic not a string": "InvalidTopic",
          "publish topic undefined": "InvalidTopic",
          "publish QoS 3": "InvalidQoS",
          "publish QoS -1": "InvalidQoS",
          "publish QoS 1.5": "InvalidQoS",
          'publish QoS "1"': "InvalidQoS",
          "publish payload a number": "InvalidArgument",
          "publish payload an object": "InvalidArgument",
          "publish payload over maxPacketSize": "PacketTooLarge",
          "publish payload over the outbox": "PacketTooLarge",
          "publish string payload with a lone surrogate": "InvalidString",
          "subscribe misplaced #": "InvalidTopicFilter",
          "subscribe misplaced +": "InvalidTopicFilter",
          "subscribe empty filter": "InvalidTopicFilter",
          "subscribe filter not a string": "InvalidTopicFilter",
          "subscribe QoS 3": "InvalidQoS",
          "unsubscribe misplaced #": "InvalidTopicFilter",
          "unsubscribe filter not a string": "InvalidTopicFilter",
          "publish after close": "Closed",
          "subscribe after close": "Closed",
          "unsubscribe after close": "Closed",
          "connect after close": "Closed",
          "close twice": "none",
        };
        assert.deepEqual(Object.fromEntries(r.rows.map((x) => [x.call, x.code])), expected);
        for (const row of r.rows) {
          assert.equal(row.sent, 0, `${row.call} sent nothing`);
          if (row.code !== "none") assert.ok(row.typed, `${row.call} threw a typed MqttError`);
          if (!row.call.includes("close")) assert.ok(row.connected, `${row.call} left the client connected`);
        }
        assert.deepEqual(r.afterwards, { published: true, acked: true });
        assert.equal(r.closedWrites, 0);
      });
    });
  }
});
