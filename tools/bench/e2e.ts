/**
 * npm run bench:e2e — xsmqtt against MQTT.js through one mosquitto on a loopback port, then
 * the client's own cost per message inside XS. A benchmark, not a test: it prints, it does
 * not assert (it does report every message lost or left unacknowledged).
 *
 * Node: each scenario runs publisher → mosquitto → subscriber, both clients of the same
 * library, the libraries alternately (xsmqtt first in odd rounds, MQTT.js first in even
 * ones), best of 4 (BENCH_ROUNDS); a warm-up pass at a tenth of the size goes first. The payload is the same 48 bytes for both (a Uint8Array; a Buffer for MQTT.js).
 * Both publishers respect backpressure the way their library offers it: xsmqtt publishes
 * while its outbox has room and waits for onDelivered when it has none; MQTT.js publishes
 * while its socket does not ask for a drain and waits for "drain" when it does. Besides the
 * rates it prints the CPU time this process (publisher and subscriber) and mosquitto spent
 * per message: the rates are largely the broker's and the loopback's, the CPU is the client's.
 * QoS 1 runs twice: xsmqtt with a device-sized window (BENCH_WINDOW, default 16), then
 * with a host-sized one (BENCH_WIDE_WINDOW, default 4,096; MQTT.js has no limit). QoS 2
 * runs once, at QoS 2 on both legs (each message takes PUBLISH, PUBREC, PUBREL, PUBCOMP
 * twice), both publishers with BENCH_WINDOW in flight: MQTT.js has no window of its own,
 * so the bench holds it to one (the next publish waits for a PUBCOMP callback). A wider
 * window loses messages: mosquitto 2.0 takes at most max_inflight_messages (20) unreleased
 * QoS 2 messages from a client and drops the ones past it, answering their PUBREC with
 * reason 0x97 (quota exceeded), which MQTT 3.1.1 has no field for, so the publisher's
 * PUBREL and the PUBCOMP follow as for a delivered message.
 * Sizes: BENCH_QOS0, BENCH_QOS1, BENCH_QOS2, BENCH_SERIAL; BENCH_PART=node or xs runs one half.
 *
 * XS: client-ops.ts in the xsnap worker over a stub platform, measured as
 * ../../shared/design.md prescribes (gc() first, windows of 500 and 1,000 after a warm-up).
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { startMosquitto, type Mosquitto } from "../runtime/brokers.js";
import { startXs } from "../runtime/xs/worker.js";
import { MqttClient, type PublishOptions } from "../../src/mqtt/client.js";
import { nodePlatform } from "../../src/platform/node/index.js";
import { measure, WARMUP, type OpCost } from "./meter.js";
import { PAYLOAD, TOPIC } from "./workload.js";

const here = path.dirname(fileURLToPath(import.meta.url));

const PAYLOAD_BUF = Buffer.from(PAYLOAD); // the same bytes, as MQTT.js likes them

const N_QOS0 = Number(process.env.BENCH_QOS0 ?? 50000);
const N_QOS1 = Number(process.env.BENCH_QOS1 ?? 20000);
const N_QOS2 = Number(process.env.BENCH_QOS2 ?? 20000);
const N_SERIAL = Number(process.env.BENCH_SERIAL ?? 5000);
/** Rounds per scenario; the order of the libraries alternates, so an even count is fair. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);

/** xsmqtt settings for the runs. */
const OUTBOX_BYTES = 256 * 1024;
const WINDOW = Number(process.env.BENCH_WINDOW ?? 16);
/**
 * The window for the second QoS 1 run: sized for a host, as MQTT.js's (which has no
 * limit) is; 4,096 slots cost 24 KB. The ring (OUTBOX_BYTES) holds about 2,700 entries,
 * which then bounds what is in flight.
 */
const WIDE_WINDOW = Number(process.env.BENCH_WIDE_WINDOW ?? 4096);
/**
 * Inbound QoS 2 ids awaiting PUBREL, for the xsmqtt subscriber: mosquitto sends up to
 * max_inflight_messages (20 by default) unreleased at once, more than the client's
 * default table of 16 holds (one past it is dropped and the connection remade).
 */
const INBOUND_QOS2 = 64;
/** The window xsmqtt clients are made with from now on. */
let currentWindow = WINDOW;
/** The QoS 1/2 publishes an MQTT.js publisher made from now on leaves unacknowledged at once (it has no such option). */
let mqttjsWindow = Infinity;
/** Bytes an outbox entry of ours takes: 12-byte header + PUBLISH (2 + 2 + 28 + [2] + 48). */
const ENTRY = 12 + 2 + 2 + TOPIC.length + 2 + PAYLOAD.length;

/** Time allowed for the last messages to arrive once nothing more moves. */
const QUIET_MS = 2000;

// ---- the two libraries behind one shape ----

interface Publisher {
  /** Publishes one message; `onAck` runs when a QoS 1 or 2 message is acknowledged (PUBACK, PUBCOMP). */
  send(qos: QoS): void;
  /** Whether another publish may go now without overrunning the library's backpressure. */
  canSend(): boolean;
  /** Resolves when the library is ready for more (a delivery, a drain). */
  ready(): Promise<void>;
  onAck: (() => void) | null;
  acked: number;
  /** QoS 1 and 2 publishes made. */
  sent: number;
  close(): Promise<void>;
}

interface Subscriber {
  received: number;
  /** Bytes of payload received, to check that every message came whole. */
  bytes: number;
  onReceive: (() => void) | null;
  close(): Promise<void>;
}

interface Lib {
  name: string;
  publisher(id: string): Promise<Publisher>;
  subscriber(id: string, qos: QoS): Promise<Subscriber>;
}

type QoS = 0 | 1 | 2;

let broker: Mosquitto;
let seq = 0;

const Q0: PublishOptions = { qos: 0 };
const Q1: PublishOptions = { qos: 1 };
const Q2: PublishOptions = { qos: 2 };
const OPTIONS = [Q0, Q1, Q2];

function xsmqttClient(id: string, extra: { onDelivered?: () => void; onMessage?: (len: number) => void }): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c: MqttClient = new MqttClient(
      {
        clientId: `${id}-${++seq}`,
        brokers: [{ host: broker.host, port: broker.port }],
        keepalive: 60,
        outboxBytes: OUTBOX_BYTES,
        inflightWindow: currentWindow,
        inboundQos2: INBOUND_QOS2,
        reconnect: { min: 60000 },
        onConnect: () => resolve(c),
        onError: (e) => reject(e),
        onDisconnect: (e) => console.error(`xsmqtt ${id}: connection lost: ${e?.message}`),
        onDelivered: extra.onDelivered,
        onMessage: extra.onMessage ? (m) => extra.onMessage!(m.payloadLength) : undefined,
      },
      nodePlatform(),
    );
    c.connect();
  });
}

const xsmqtt: Lib = {
  name: "xsmqtt",
  async publisher(id) {
    let wake: (() => void) | null = null;
    const p: Publisher = {
      onAck: null,
      acked: 0,
      sent: 0,
      send(qos) {
        client.publish(TOPIC, PAYLOAD, OPTIONS[qos]);
      },
      canSend() {
        // two entries of slack: the ring may have to skip its end to wrap
        return client.queuedBytes + 2 * ENTRY + 1 <= OUTBOX_BYTES;
      },
      ready() {
        return new Promise<void>((r) => (wake = r));
      },
      async close() {
        client.close();
      },
    };
    const client = await xsmqttClient(id, {
      onDelivered() {
        if (wake) {
          const w = wake;
          wake = null;
          w();
        }
        if (p.onAck) {
          // QoS 0 "delivered" means written; only QoS 1 and 2 runs set onAck
          p.acked++;
          p.onAck();
        }
      },
    });
    return p;
  },
  async subscriber(id, qos) {
    const s: Subscriber = { received: 0, bytes: 0, onReceive: null, close: async () => client.close() };
    const client = await xsmqttClient(id, {
      onMessage(len) {
        s.received++;
        s.bytes += len;
        s.onReceive?.();
      },
    });
    await new Promise<void>((resolve, reject) => client.subscribe(TOPIC, { qos, done: (e) => (e ? reject(e) : resolve()) }));
    return s;
  },
};

function mqttjsClient(id: string): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://${broker.host}:${broker.port}`, {
      clientId: `${id}-${++seq}`,
      protocolVersion: 4,
      clean: true,
      keepalive: 60,
      reconnectPeriod: 0, // no reconnect noise
    });
    c.once("connect", () => {
      // xsmqtt's Node transport sets TCP_NODELAY; give MQTT.js's socket the same
      (c.stream as unknown as import("node:net").Socket).setNoDelay?.(true);
      resolve(c);
    });
    c.once("error", reject);
  });
}

const mqttjs: Lib = {
  name: "MQTT.js",
  async publisher(id) {
    const client = await mqttjsClient(id);
    const stream = client.stream as unknown as import("node:net").Socket;
    const opts0 = { qos: 0 as const };
    const opts1 = { qos: 1 as const };
    const opts2 = { qos: 2 as const };
    const window = mqttjsWindow;
    let wake: (() => void) | null = null;
    const p: Publisher = {
      onAck: null,
      acked: 0,
      sent: 0,
      send(qos) {
        if (qos === 0) return void client.publish(TOPIC, PAYLOAD_BUF, opts0);
        p.sent++;
        client.publish(TOPIC, PAYLOAD_BUF, qos === 1 ? opts1 : opts2, onPuback);
      },
      canSend() {
        return !stream.writableNeedDrain && p.sent - p.acked < window;
      },
      ready() {
        if (stream.writableNeedDrain) return new Promise<void>((r) => stream.once("drain", () => r()));
        return new Promise<void>((r) => (wake = r));
      },
      close() {
        return new Promise<void>((r) => client.end(false, {}, () => r()));
      },
    };
    function onPuback(err?: Error) {
      if (err) return console.error(`MQTT.js ${id}: ${err.message}`);
      p.acked++;
      p.onAck?.();
      if (wake) {
        const w = wake;
        wake = null;
        w();
      }
    }
    return p;
  },
  async subscriber(id, qos) {
    const client = await mqttjsClient(id);
    const s: Subscriber = {
      received: 0,
      bytes: 0,
      onReceive: null,
      close: () => new Promise<void>((r) => client.end(false, {}, () => r())),
    };
    client.on("message", (_topic, payload) => {
      s.received++;
      s.bytes += payload.length;
      s.onReceive?.();
    });
    await new Promise<void>((resolve, reject) => client.subscribe(TOPIC, { qos }, (e) => (e ? reject(e) : resolve())));
    return s;
  },
};

// ---- scenarios ----

interface Throughput {
  rate: number;
  ms: number;
  received: number;
  acked: number;
  n: number;
  /** Payload bytes that did not arrive as they left (should be 0). */
  badBytes: number;
  /** CPU time of this Node process (publisher and subscriber) per message, µs. */
  cpu: number;
  /** CPU time of mosquitto per message, µs (NaN where /proc is missing). */
  brokerCpu: number;
}

/** mosquitto's CPU time so far in ms, from /proc; NaN where that is not available. */
function brokerCpuMs(): number {
  try {
    const fields = fs.readFileSync(`/proc/${broker.process.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return NaN;
  }
}

/** Resolves when `done()` holds, or when nothing has moved for QUIET_MS. */
function settle(done: () => boolean, progress: () => number): Promise<void> {
  return new Promise((resolve) => {
    if (done()) return resolve();
    let last = progress();
    let lastMove = performance.now();
    const t = setInterval(() => {
      const now = progress();
      if (done()) {
        clearInterval(t);
        resolve();
      } else if (now !== last) {
        last = now;
        lastMove = performance.now();
      } else if (performance.now() - lastMove > QUIET_MS) {
        clearInterval(t);
        resolve();
      }
    }, 5);
  });
}

/** n messages of `qos` as fast as backpressure allows; rate from the first publish to the last receipt (and ack). */
async function throughput(lib: Lib, qos: QoS, n: number): Promise<Throughput> {
  const sub = await lib.subscriber(`bench-sub-q${qos}`, qos);
  const pub = await lib.publisher(`bench-pub-q${qos}`);
  let lastReceipt = 0;
  let lastAck = 0;
  let notify: (() => void) | null = null;
  sub.onReceive = () => {
    if (sub.received === n) {
      lastReceipt = performance.now();
      notify?.();
    }
  };
  if (qos !== 0)
    pub.onAck = () => {
      if (pub.acked === n) {
        lastAck = performance.now();
        notify?.();
      }
    };
  const complete = () => sub.received >= n && (qos === 0 || pub.acked >= n);
  const cpu0 = process.cpuUsage();
  const broker0 = brokerCpuMs();
  const t0 = performance.now();
  let sent = 0;
  while (sent < n) {
    while (sent < n && pub.canSend()) {
      pub.send(qos);
      sent++;
    }
    if (sent < n) await pub.ready();
  }
  await Promise.race([
    new Promise<void>((r) => (notify = () => complete() && r())),
    settle(complete, () => sub.received + pub.acked),
  ]);
  const end = Math.max(lastReceipt, lastAck) || performance.now();
  const cpu = process.cpuUsage(cpu0);
  const brokerCpu = brokerCpuMs() - broker0;
  const result: Throughput = {
    cpu: (cpu.user + cpu.system) / n,
    brokerCpu: (brokerCpu * 1000) / n,
    rate: complete() ? n / ((end - t0) / 1000) : 0,
    ms: end - t0,
    received: sub.received,
    acked: qos ? pub.acked : n,
    n,
    badBytes: sub.bytes - sub.received * PAYLOAD.length,
  };
  await pub.close();
  await sub.close();
  return result;
}

interface Latency {
  p50: number;
  p99: number;
  mean: number;
  received: number;
  acked: number;
  n: number;
}

/** n QoS 1 publishes one at a time: the next goes when the previous one's PUBACK arrives. */
async function serial(lib: Lib, n: number): Promise<Latency> {
  const sub = await lib.subscriber("bench-sub-serial", 1);
  const pub = await lib.publisher("bench-pub-serial");
  const times = new Float64Array(n);
  let i = 0;
  let t = 0;
  await new Promise<void>((resolve) => {
    pub.onAck = () => {
      times[i++] = performance.now() - t;
      if (i === n) return resolve();
      t = performance.now();
      pub.send(1);
    };
    t = performance.now();
    pub.send(1);
  });
  await settle(
    () => sub.received >= n,
    () => sub.received,
  );
  const sorted = Array.from(times).sort((a, b) => a - b);
  const result: Latency = {
    p50: sorted[Math.floor(n * 0.5)],
    p99: sorted[Math.min(n - 1, Math.floor(n * 0.99))],
    mean: sorted.reduce((a, b) => a + b, 0) / n,
    received: sub.received,
    acked: pub.acked,
    n,
  };
  await pub.close();
  await sub.close();
  return result;
}

function mqttVersion(): string {
  try {
    return (createRequire(import.meta.url)("mqtt/package.json") as { version: string }).version;
  } catch {
    return "?";
  }
}

// ---- printing ----

const fmt = (x: number, w = 12) => Math.round(x).toLocaleString("en-US").padStart(w);
const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;
const losses: string[] = [];

function checkThroughput(lib: string, what: string, r: Throughput): void {
  if (r.received !== r.n) losses.push(`${lib} ${what}: ${r.n - r.received} of ${r.n} messages not received (${r.received} arrived)`);
  if (r.acked !== r.n) losses.push(`${lib} ${what}: ${r.n - r.acked} of ${r.n} publishes not acknowledged`);
  if (r.badBytes !== 0) losses.push(`${lib} ${what}: payload sizes differ by ${r.badBytes} bytes in total`);
}

function checkLatency(lib: string, what: string, r: Latency): void {
  if (r.received !== r.n) losses.push(`${lib} ${what}: ${r.n - r.received} of ${r.n} messages not received (${r.received} arrived)`);
  if (r.acked !== r.n) losses.push(`${lib} ${what}: ${r.n - r.acked} of ${r.n} publishes not acknowledged`);
}

// ---- main ----

const started = performance.now();
/** BENCH_PART=node or xs runs one half only (the XS half needs no broker). */
const PART = process.env.BENCH_PART ?? "all";
if (PART !== "xs") {
  broker = await startMosquitto({
    config: [
      // the subscriber queue must hold a burst of 20,000 QoS 1 messages; the default (1,000) drops
      "max_queued_messages 100000",
      "set_tcp_nodelay true",
    ],
  });
  const libs = [xsmqtt, mqttjs];

  try {
    console.log(
      `end-to-end benchmark: publisher → mosquitto ${broker.port} (127.0.0.1) → subscriber, same library at both ends; Node ${process.version}, MQTT.js ${mqttVersion()}`,
    );
    console.log(`topic ${TOPIC}, ${PAYLOAD.length}-byte payload (same bytes for both); xsmqtt outbox ${OUTBOX_BYTES / 1024} KB, window ${WINDOW} (then ${WIDE_WINDOW}), inbound QoS 2 table ${INBOUND_QOS2}; MQTT.js defaults, reconnectPeriod 0; TCP_NODELAY on both`);
    console.log(`backpressure: xsmqtt publishes while its outbox has room, else waits for onDelivered; MQTT.js while its socket needs no drain, else waits for "drain"`);
    console.log(`QoS 2: both legs at QoS 2, both publishers ${WINDOW} in flight (MQTT.js held to it by the bench: past mosquitto's max_inflight_messages, 20, it drops QoS 2 messages yet completes their flow)`);

    // warm-up: both libraries, every scenario, a tenth of the size; not reported
    for (const lib of libs) {
      await throughput(lib, 0, N_QOS0 / 10);
      await throughput(lib, 1, N_QOS1 / 10);
      mqttjsWindow = WINDOW;
      await throughput(lib, 2, N_QOS2 / 10);
      mqttjsWindow = Infinity;
      await serial(lib, N_SERIAL / 10);
    }

    const q0: Record<string, Throughput[]> = { xsmqtt: [], "MQTT.js": [] };
    const q1: Record<string, Throughput[]> = { xsmqtt: [], "MQTT.js": [] };
    const q1wide: Record<string, Throughput[]> = { xsmqtt: [], "MQTT.js": [] };
    const q2: Record<string, Throughput[]> = { xsmqtt: [], "MQTT.js": [] };

    const lat: Record<string, Latency[]> = { xsmqtt: [], "MQTT.js": [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? libs : [...libs].reverse();
      for (const lib of order) q0[lib.name].push(await throughput(lib, 0, N_QOS0));
      for (const lib of order) q1[lib.name].push(await throughput(lib, 1, N_QOS1));
      currentWindow = WIDE_WINDOW;
      for (const lib of order) q1wide[lib.name].push(await throughput(lib, 1, N_QOS1));
      currentWindow = WINDOW;
      mqttjsWindow = WINDOW;
      for (const lib of order) q2[lib.name].push(await throughput(lib, 2, N_QOS2));
      mqttjsWindow = Infinity;
      for (const lib of order) lat[lib.name].push(await serial(lib, N_SERIAL));
    }
    for (const lib of libs) {
      q0[lib.name].forEach((r, k) => checkThroughput(lib.name, `QoS 0 round ${k + 1}`, r));
      q1[lib.name].forEach((r, k) => checkThroughput(lib.name, `QoS 1 window round ${k + 1}`, r));
      q1wide[lib.name].forEach((r, k) => checkThroughput(lib.name, `QoS 1 wide window round ${k + 1}`, r));
      q2[lib.name].forEach((r, k) => checkThroughput(lib.name, `QoS 2 window round ${k + 1}`, r));

      lat[lib.name].forEach((r, k) => checkLatency(lib.name, `QoS 1 serial round ${k + 1}`, r));
    }

    const bestRate = (rs: Throughput[]) => rs.reduce((a, b) => (b.rate > a.rate ? b : a));
    const bestLat = (rs: Latency[]) => rs.reduce((a, b) => (b.p50 < a.p50 ? b : a));

    console.log("");
    console.log(`Node, messages per second, first publish → last receipt (best of ${ROUNDS} rounds, libraries alternating)`);
    console.log("                                         xsmqtt        MQTT.js     ratio");
    for (const [name, table] of [
      [`QoS 0, ${N_QOS0.toLocaleString("en-US")} messages`, q0],
      [`QoS 1 windowed, ${N_QOS1.toLocaleString("en-US")} (+ all PUBACKs)`, q1],
      [`  the same, xsmqtt window ${WIDE_WINDOW.toLocaleString("en-US")}`, q1wide],
      [`QoS 2 windowed, ${N_QOS2.toLocaleString("en-US")} (+ all PUBCOMPs)`, q2],
    ] as const) {
      const a = bestRate(table.xsmqtt);
      const b = bestRate(table["MQTT.js"]);
      console.log(`${name.padEnd(36)}${fmt(a.rate, 13)}  ${fmt(b.rate, 13)}   ${(a.rate / b.rate).toFixed(2).padStart(6)}x`);
      const each = (rs: Throughput[]) => rs.map((r) => `${Math.round(r.rate / 1000)}k`).join(" ");
      console.log(`${"  each round".padEnd(36)}${`${each(table.xsmqtt)}`.padStart(13)}  ${`${each(table["MQTT.js"])}`.padStart(13)}`);
      const cpu = (rs: Throughput[]) => Math.min(...rs.map((r) => r.cpu));
      const ca = cpu(table.xsmqtt);
      const cb = cpu(table["MQTT.js"]);
      console.log(`${"  Node CPU µs/message (least)".padEnd(36)}${ca.toFixed(2).padStart(13)}  ${cb.toFixed(2).padStart(13)}   ${(cb / ca).toFixed(2).padStart(6)}x less`);
      const bc = (rs: Throughput[]) => Math.min(...rs.map((r) => r.brokerCpu));
      if (!Number.isNaN(bc(table.xsmqtt)))
        console.log(`${"  mosquitto CPU µs/message (least)".padEnd(36)}${bc(table.xsmqtt).toFixed(2).padStart(13)}  ${bc(table["MQTT.js"]).toFixed(2).padStart(13)}`);
    }
    console.log("(Node CPU: this process, publisher and subscriber together, user + system; mosquitto CPU from /proc in 10 ms ticks)");

    console.log("");
    console.log(`Node, QoS 1 one at a time, ${N_SERIAL.toLocaleString("en-US")} round trips publish → PUBACK (the round with the best median of ${ROUNDS})`);
    console.log("                                         xsmqtt        MQTT.js     ratio (MQTT.js / xsmqtt)");
    const la = bestLat(lat.xsmqtt);
    const lb = bestLat(lat["MQTT.js"]);
    for (const [name, k] of [
      ["p50", "p50"],
      ["p99", "p99"],
      ["mean", "mean"],
    ] as const) {
      console.log(`${name.padEnd(36)}${us(la[k]).padStart(13)}  ${us(lb[k]).padStart(13)}   ${(lb[k] / la[k]).toFixed(2).padStart(6)}x`);
    }
    console.log(`${"round trips per second".padEnd(36)}${fmt(1000 / la.mean, 13)}  ${fmt(1000 / lb.mean, 13)}`);

    console.log("");
    if (losses.length === 0)
      console.log(`delivery: every message received by the subscriber and every QoS 1 and 2 publish acknowledged, in all ${ROUNDS} rounds of both libraries`);
    else for (const l of losses) console.log(`LOSS: ${l}`);
  } finally {
    await broker.close();
  }
}

// ---- XS ----

if (PART !== "node") {
  console.log("");
  console.log("XS (xsnap-worker), the client over a stub transport (no copy, no socket): per operation, windows of 1,000 after warm-up, gc() first");
  const worker = await startXs(path.join(here, "client-xs-entry.js"), "bench-e2e");
  try {
    let before: Record<string, number>;
    try {
      before = (await worker.call<Record<string, number>>("counters")).result;
    } catch (e) {
      // the module's evaluation failed inside XS; its error is on the worker's stderr
      throw new Error(`${(e as Error).message}\nxsnap stderr: ${worker.stderr.trim() || "(empty)"}`);
    }
    const costs: Record<string, OpCost> = {};
    const rows = [
      ["publish QoS 0", "publishMany"],
      ["  with an options object", "publishOptionsMany"],
      ["  payload 48 and 40 bytes in turn", "publishVaryingMany"],
      ["  with onDelivered", "publishCallbackMany"],
      ["receive QoS 0", "receiveMany"],
      ["  8 topics in turn (cache misses)", "receiveRotatingMany"],
      ["receive QoS 1 (+ PUBACK out)", "receiveQos1Many"],
      ["publish QoS 1 + PUBACK in", "publishQos1Many"],
      ["publish QoS 2 + PUBREC, PUBCOMP in", "publishQos2Many"],
      ["5.0 publish QoS 0, topic alias", "publish5Many"],
      ["5.0 publish QoS 1 + PUBACK rc 0", "publish5Qos1Many"],
      ["5.0 receive QoS 0, 2 user props", "receive5UserMany"],
      ["  one changing (block misses)", "receive5ChangingMany"],
      ["5.0 receive QoS 0, no properties", "receive5BareMany"],
      ["5.0 receive by sub id", "receive5SubIdMany"],
    ] as const;
    const before5 = (await worker.call<Record<string, number>>("counters5")).result;
    console.log("                                   compute   heap slots   N/2 check");
    for (const [name, op] of rows) {
      const c = (costs[op] = await measure(worker, op, 1000));
      console.log(`${name.padEnd(30)}${String(c.compute).padStart(12)} ${String(c.slots).padStart(12)}   ${c.consistent ? "agrees" : "DIFFERS (collection in window?)"}`);
    }
    // memory at rest: a connected client with default options, after a collection, against a collection alone
    const rest: number[] = [];
    for (let k = 0; k < 3; k++) {
      const base = (await worker.call("restClient", false)).meter.currentHeapCount;
      rest.push((await worker.call("restClient", true)).meter.currentHeapCount - base);
    }
    const restSame = rest.every((x) => x === rest[0]);
    console.log(`${"connected client at rest".padEnd(30)}${"".padStart(12)} ${String(rest[rest.length - 1]).padStart(12)}   ${restSame ? "same for 3 clients" : `DIFFERS: ${rest.join(", ")}`}`);
    const after = (await worker.call<Record<string, number>>("counters")).result;
    const ran = WARMUP + 0 + 500 + 1000; // measure(): warm-up, then windows of 0, n/2, n (n = 1000)
    const d = (k: string) => after[k] - before[k];
    const problems: string[] = [];
    // six publishing ops: QoS 0 four ways, QoS 1, QoS 2
    if (d("published") !== 6 * ran) problems.push(`published ${d("published")}, expected ${6 * ran}`);
    if (d("statsDelivered") !== 6 * ran) problems.push(`delivered ${d("statsDelivered")}, expected ${6 * ran}`);
    if (d("delivered") !== ran) problems.push(`onDelivered ran ${d("delivered")} times, expected ${ran}`);
    // three receiving ops: QoS 0 one topic, QoS 0 eight topics, QoS 1
    if (d("received") !== 3 * ran || d("handled") !== 3 * ran) problems.push(`received ${d("received")} / handled ${d("handled")}, expected ${3 * ran}`);
    if (d("payloadBytes") !== 3 * ran * PAYLOAD.length) problems.push(`payload bytes ${d("payloadBytes")}`);
    // written: QoS 0 PUBLISH (header, length, topic length, topic, payload: 80 B), QoS 1 PUBLISH (+ packet id), PUBACK 4 B,
    // QoS 2 PUBLISH (+ packet id) and its PUBREL 4 B
    const q0Bytes = 4 + TOPIC.length + PAYLOAD.length;
    // the varying op: half its packets 8 bytes shorter
    const expectWritten = ran * (3 * q0Bytes + (q0Bytes - 4) + (q0Bytes + 2) + 4 + (q0Bytes + 2) + 4);
    if (d("bytesWritten") !== expectWritten) problems.push(`bytes written ${d("bytesWritten")}, expected ${expectWritten}`);
    for (const k of ["errors", "refused", "unknownAcks", "protocolErrors", "connectionLosses"]) if (after[k] !== 0) problems.push(`${k} ${after[k]}`);
    if (after.connected !== 1 || after.queued !== 0 || after.inflight !== 0) problems.push(`connected ${after.connected}, queued ${after.queued}, inflight ${after.inflight}`);
    // the 5.0 client: two publishing ops (QoS 0, QoS 1), four receiving ones (2 user properties each in the first two)
    const after5 = (await worker.call<Record<string, number>>("counters5")).result;
    const d5 = (k: string) => after5[k] - before5[k];
    if (d5("published") !== 2 * ran || d5("delivered") !== 2 * ran) problems.push(`5.0: published ${d5("published")}, delivered ${d5("delivered")}, expected ${2 * ran}`);
    if (d5("received") !== 4 * ran || d5("handled") !== 4 * ran) problems.push(`5.0: received ${d5("received")} / handled ${d5("handled")}, expected ${4 * ran}`);
    if (d5("userProperties") !== 4 * ran) problems.push(`5.0: user properties seen ${d5("userProperties")}, expected ${4 * ran}`);
    // 5.0 PUBLISH under a Topic Alias: header 2 B, an empty topic 2 B, properties 4 B (length, the alias), payload; QoS 1 + packet id 2 B;
    // PUBACK 6 B in, nothing out for it
    const a5Bytes = 2 + 2 + 4 + PAYLOAD.length;
    // (the first QoS 0 publish goes with its topic, the second with topic and alias: 53 bytes more)
    const firstTwo = 2 * (4 + TOPIC.length + 1 + PAYLOAD.length) + 3 - 2 * a5Bytes;
    if (d5("bytesWritten") !== ran * (2 * a5Bytes + 2) + firstTwo) problems.push(`5.0: bytes written ${d5("bytesWritten")}, expected ${ran * (2 * a5Bytes + 2) + firstTwo}`);
    // QoS 0 goes whole (the bytes above show its alias), QoS 1 through the outbox, where the stub reads its topic length
    if (d5("writes") !== ran - 1) problems.push(`5.0: ${d5("writes")} PUBLISHes written whole, expected ${ran - 1}`);
    if (d5("aliased") !== ran) problems.push(`5.0: ${d5("aliased")} QoS 1 PUBLISHes under a Topic Alias, expected ${ran}`);
    for (const k of ["errors", "protocolErrors", "refusedByBroker"]) if (after5[k] !== 0) problems.push(`5.0: ${k} ${after5[k]}`);
    if (after5.connected !== 1 || after5.queued !== 0 || after5.inflight !== 0) problems.push(`5.0: connected ${after5.connected}, queued ${after5.queued}, inflight ${after5.inflight}`);
    console.log(`workload check: ${problems.length === 0 ? `every publish written (and acked), every message dispatched to handler and onMessage, ${d("writes")} writes, no errors` : "PROBLEM: " + problems.join("; ")}`);

    console.log("");
    console.log("against Moddable's modules in this XS (design.md reference: 48-byte QoS 0 PUBLISH, same topic)");
    console.log("                       ours: compute / slots   classic mqtt (580/22; 4,300/38)   ECMA-419 mqttclient (630/30; 4,500/29)");
    const ref = {
      publish: { classic: [580, 22], ecma: [630, 30] },
      receive: { classic: [4300, 38], ecma: [4500, 29] },
    };
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    for (const [name, op, r] of [
      ["publish QoS 0", "publishMany", ref.publish],
      ["receive QoS 0", "receiveMany", ref.receive],
      ["5.0 publish QoS 0, alias", "publish5Many", ref.publish],
      ["5.0 receive, 2 user props", "receive5UserMany", ref.receive],
    ] as const) {
      const c = costs[op];
      const ours = `${c.compute} / ${c.slots}`;
      const vs = (x: number[]) => `compute ${ratio(c.compute, x[0])}, slots ${ratio(c.slots, x[1])}`;
      console.log(`${name.padEnd(22)} ${ours.padStart(22)}   ${vs(r.classic).padEnd(34)}${vs(r.ecma)}`);
    }
    console.log("(ratio = ours / theirs; the goal in design.md is compute ≤ 0.33x and 0 slots)");
    console.log(`at rest, heap slots: ours ${rest[rest.length - 1]} (default options, connected, with its transport and timer objects); classic mqtt about 150 (design.md)`);
  } finally {
    await worker.close();
  }
}
console.log("");
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
