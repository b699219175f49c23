/**
 * Soak: QoS 1 and QoS 2 traffic (alternate batches) through the fault proxy while it misbehaves at random (connections
 * cut with FIN or RST, black holes that only keepalive can detect, latency, re-chunked
 * streams, a throttled path), against aedes in process or mosquitto. The publisher keeps a
 * session (clean session off), so QoS 2 stays exactly once across reconnects. A subscriber
 * connected straight to the broker (QoS 1 and QoS 2 subscriptions, clean session off) counts
 * every copy of every message. Prints, every interval and at the end: messages sent
 * (accepted by publish), received, duplicated, lost (QoS 2 apart), reconnects and
 * memory (heap after a full collection, RSS; for the XS engine also the worker's live heap
 * slots), and a growth verdict from the least-squares slope of the heap over time (judged
 * on runs of 35 s or more).
 *
 *   npm run soak -- --minutes 10
 *   npm run soak -- --seconds 30 --broker mosquitto --engine xs
 *
 * Exits 1 if any accepted message was lost, a QoS 2 message arrived twice, or memory grows;
 * 2 on a bad command line.
 * The last line of output is `SOAK-RESULT {json}` for scripts.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import v8 from "node:v8";
import vm from "node:vm";
import { MqttClient } from "../src/mqtt/client.js";
import { nodePlatform } from "../src/platform/node/index.js";
import { FaultProxy } from "../host-test/fault-proxy.js";
import { startAedes, startMosquitto, type Broker } from "./runtime/brokers.js";
import { driverModule } from "./runtime/modules.js";
import { ENGINE_NAMES, isEngineName, startEngine, type EngineName } from "./runtime/engine.js";


export interface SoakOptions {
  seconds: number;
  broker: "aedes" | "mosquitto";
  /** Where the publisher runs; the subscriber and the faults are always on Node. */
  engine: EngineName;
  /** Messages per second offered. */
  rate: number;
  seed: number;
  /** Seconds between progress lines. */
  every: number;
  /** Heap growth, in MB per minute, above which the run fails. */
  maxGrowthMBPerMin: number;
  /** XS heap slot growth per minute above which the run fails. */
  maxSlotGrowthPerMin: number;
  log: (line: string) => void;
}

export interface Sample {
  /** Seconds since the start. */
  t: number;
  heapUsed: number;
  /** heapUsed less compiled code and bytecode with their metadata (what the JIT adds as it optimizes). */
  dataHeap: number;
  rss: number;
  xsSlots: number;
}

export interface SoakResult {
  engine: string;
  broker: string;
  seconds: number;
  sent: number;
  received: number;
  /** Extra copies of QoS 1 messages (allowed: at least once). */
  duplicated: number;
  /** Accepted messages, QoS 1 and 2, that never arrived. */
  lost: number;
  /** Of `sent`, QoS 2: none may be lost, none duplicated. */
  qos2Sent: number;
  qos2Lost: number;
  qos2Duplicated: number;
  /** Publishes refused for a full outbox (backpressure during outages; the message was never accepted). */
  refused: number;
  reconnects: number;
  resent: number;
  faults: Record<string, number>;
  samples: Sample[];
  /** Slope of heapUsed, MB per minute, after the warm-up. */
  heapSlopeMBPerMin: number;
  /** The same less compiled code and bytecode: the verdict's figure on Node. */
  dataSlopeMBPerMin: number;
  slotSlopePerMin: number;
  /** The run was long enough past its warm-up (35 s or more) to judge memory. */
  memoryJudged: boolean;
  memoryGrows: boolean;
  ok: boolean;
}

/** xorshift32, so a seed replays the same fault schedule. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MB = 1048576;

/** A full collection, without needing `node --expose-gc` on the command line. */
function collector(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

interface Publisher {
  create(options: object): Promise<void>;
  connect(): Promise<void>;
  publishMany(prefix: string, first: number, count: number, qos: 1 | 2): Promise<{ tokens: number[]; error?: { code: string } }>;
  stats(): Promise<Record<string, number | boolean>>;
  /** Live XS heap slots after a collection; 0 on Node. */
  slots(): Promise<number>;
  close(): Promise<void>;
}

const TOPIC = "soak/data";
const TOPIC2 = "soak/q2";
const NAME = "pub";

/** The publisher through the same driver the client suites use, on either engine. */
async function publisher(name: EngineName, onEvent: (e: { type: string; [k: string]: unknown }) => void): Promise<Publisher> {
  const engine = await startEngine(name, driverModule, { onEvent, workerName: "xsmqtt-soak" });
  let evaluations = 0;
  return {
    create: (o) => engine.call("create", NAME, o),
    connect: () => engine.call("connect", NAME),
    publishMany: (prefix, first, count, qos) => engine.call("publishMany", NAME, qos === 2 ? TOPIC2 : TOPIC, prefix, first, count, { qos }),
    stats: () => engine.call("stats", NAME),
    // each evaluate() keeps one slot in xsnap (100 calls: +100 slots), so count them out
    slots: async () => (engine.bridge ? (await engine.bridge.worker.evaluate("gc()")).meter.currentHeapCount - ++evaluations : 0),
    close: async () => {
      await engine.call("close", NAME).catch(() => undefined);
      await engine.close();
    },
  };
}

/** Runs one soak and reports; never throws for a failed verdict (see `ok`). */
export async function runSoak(options: Partial<SoakOptions> = {}): Promise<SoakResult> {
  const o: SoakOptions = {
    seconds: 60,
    broker: "aedes",
    engine: "node",
    rate: 200,
    seed: 1,
    every: 0,
    maxGrowthMBPerMin: 1,
    maxSlotGrowthPerMin: 200,
    log: (l) => console.log(l),
    ...options,
  };
  const every = o.every > 0 ? o.every : o.seconds >= 300 ? 30 : o.seconds >= 60 ? 10 : 5;
  const random = rng(o.seed);
  const gc = collector();
  const broker: Broker = o.broker === "mosquitto" ? await startMosquitto() : await startAedes();
  const proxy = await FaultProxy.start(broker.port);
  const started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;

  // the subscriber: straight to the broker, counting copies by sequence number
  const capacity = Math.ceil(o.rate * (o.seconds + 10) * 1.1) + 1000;
  const seen = new Uint16Array(capacity);
  /** The QoS each sequence number was published at. */
  const qosOf = new Uint8Array(capacity);
  let received = 0;
  let subReady = false;
  /** The subscriber's errors by code (it is not faulted: any is worth a look). */
  const subErrors: Record<string, number> = {};
  const subscriber = new MqttClient(
    {
      clientId: `soak-sub-${process.pid}`,
      brokers: [{ host: "127.0.0.1", port: broker.port }],
      clean: false,
      // as many QoS 2 ids as a broker may have in flight to it: aedes sets no limit, and
      // with 64 the subscriber livelocked (each InboundQos2Full reconnect drops the PUBRECs
      // it owed, and aedes resends its whole in-flight set at once; client.test.ts, "writes
      // the acks it owes before renewing the connection")
      inboundQos2: 4096,
      keepalive: 10,
      onError: (e) => void (subErrors[e.code] = (subErrors[e.code] ?? 0) + 1),
      reconnect: { min: 100, max: 1000 },
      onMessage: (m) => {
        // payload: filler, then the decimal sequence number; read without making a string
        let seq = 0;
        let scale = 1;
        for (let i = m.payloadEnd - 1; i >= m.payloadStart; i--) {
          const c = m.data[i];
          if (c < 0x30 || c > 0x39) break;
          seq += (c - 0x30) * scale;
          scale *= 10;
        }
        if (seq < capacity) seen[seq]++;
        received++;
      },
    },
    nodePlatform(),
  );
  let subAcks = 0;
  subscriber.subscribe(TOPIC, { qos: 1, done: () => void (subReady = ++subAcks === 2) });
  subscriber.subscribe(TOPIC2, { qos: 2, done: () => void (subReady = ++subAcks === 2) });
  subscriber.connect();
  for (let i = 0; i < 100 && !subReady; i++) await sleep(50);
  if (!subReady) throw new Error("the subscriber did not subscribe");

  // the publisher: through the proxy, keepalive 2 s so a black hole is found within 3 s
  const counts = { connects: 0 };
  const pub = await publisher(o.engine, (e) => {
    if (e.type === "connect") counts.connects++;
  });
  await pub.create({
    clientId: `soak-pub-${process.pid}`,
    brokers: [{ host: "127.0.0.1", port: proxy.port }],
    clean: false,
    keepalive: 2,
    connectTimeout: 3000,
    reconnect: { min: 100, max: 2000 },
    outboxBytes: 64 * 1024,
    inflightWindow: 16,
    queuePolicy: "refuse",
    quiet: true,
  });
  await pub.connect();

  const faults: Record<string, number> = {};
  let stopping = false;
  const faultLoop = (async () => {
    while (!stopping) {
      await sleep(1500 + random() * 2000);
      if (stopping) break;
      const kinds = ["cut-rst", "cut-fin", "blackhole", "delay", "chunking", "throttle"];
      const kind = kinds[Math.floor(random() * kinds.length)];
      faults[kind] = (faults[kind] ?? 0) + 1;
      const hold = 2000 + random() * 2500;
      switch (kind) {
        case "cut-rst":
          proxy.cut("rst");
          break;
        case "cut-fin":
          proxy.cut("fin");
          break;
        case "blackhole":
          proxy.blackhole = true;
          await sleep(2500 + random() * 2000);
          proxy.cut("rst"); // the dead connections stay dead; new ones may pass again
          proxy.blackhole = false;
          break;
        case "delay":
          proxy.delayMs = 20 + Math.floor(random() * 180);
          await sleep(hold);
          proxy.delayMs = 0;
          break;
        case "chunking":
          proxy.chunking = (["bytes", "random", "coalesce"] as const)[Math.floor(random() * 3)];
          await sleep(hold);
          proxy.chunking = "none";
          break;
        case "throttle":
          proxy.throttle = 20000 + Math.floor(random() * 30000);
          await sleep(hold);
          proxy.throttle = 0;
          break;
      }
    }
  })();

  const samples: Sample[] = [];
  const sample = async () => {
    const xsSlots = await pub.slots();
    gc();
    gc();
    const m = process.memoryUsage();
    const code = v8.getHeapCodeStatistics();
    const dataHeap = m.heapUsed - code.code_and_metadata_size - code.bytecode_and_metadata_size;
    const s = { t: elapsed(), heapUsed: m.heapUsed, dataHeap, rss: m.rss, xsSlots };
    samples.push(s);
    return s;
  };
  let sent = 0;
  let refused = 0;
  const duplicatesSoFar = (qos: number) => {
    let d = 0;
    for (let i = 0; i < sent; i++) if (seen[i] > 1 && qosOf[i] === qos) d += seen[i] - 1;
    return d;
  };
  const progress = (s: Sample, label: string) =>
    o.log(
      `${label} t=${s.t.toFixed(0)}s sent=${sent} received=${received} duplicated=${duplicatesSoFar(1)} qos2-duplicated=${duplicatesSoFar(2)} refused=${refused} ` +
        `reconnects=${Math.max(0, counts.connects - 1)} heapUsed=${(s.heapUsed / MB).toFixed(2)}MB (less code ${(s.dataHeap / MB).toFixed(2)}MB) rss=${(s.rss / MB).toFixed(1)}MB` +
        (o.engine === "xs" ? ` xsSlots=${s.xsSlots}` : ""),
    );

  // publish at the offered rate; a refusal (outbox full during an outage) retries the same number later
  const filler = "x".repeat(48) + "-";
  const tickMs = 20;
  const perTick = Math.max(1, Math.round((o.rate * tickMs) / 1000));
  // memory is sampled every 2 s for the trend, printed every `every` seconds
  const sampleEvery = 2;
  let nextSample = started + sampleEvery * 1000;
  let nextPrint = started + every * 1000;
  o.log(`soak: ${o.seconds}s, publisher on ${o.engine}, broker ${o.broker} on ${broker.port}, proxy on ${proxy.port}, ${o.rate} msg/s, seed ${o.seed}`);
  progress(await sample(), "start");
  let tick = 0;
  while (elapsed() < o.seconds) {
    const qos = tick++ % 2 === 0 ? 1 : 2;
    const r = await pub.publishMany(filler, sent, perTick, qos).catch((e) => ({ tokens: [], error: { code: String(e) } }));
    qosOf.fill(qos, sent, sent + r.tokens.length);
    sent += r.tokens.length;
    if (r.error) {
      if (r.error.code !== "QueueFull") throw new Error(`publish failed: ${r.error.code}`);
      refused++;
    }
    if (Date.now() >= nextSample) {
      const m = await sample();
      nextSample += sampleEvery * 1000;
      if (Date.now() >= nextPrint) {
        progress(m, "soak");
        nextPrint += every * 1000;
      }
    }
    await sleep(tickMs);
  }
  // drain: no more faults or traffic; everything accepted must arrive
  stopping = true;
  await faultLoop;
  proxy.blackhole = false;
  proxy.delayMs = 0;
  proxy.throttle = 0;
  proxy.chunking = "none";
  const drainBy = Date.now() + 30000;
  for (;;) {
    const st = await pub.stats();
    let missing = 0;
    for (let i = 0; i < sent; i++) if (seen[i] === 0) missing++;
    if ((st.queued === 0 && missing === 0) || Date.now() > drainBy) break;
    await sleep(100);
  }
  await sleep(200);
  const st = await pub.stats();
  let lost = 0;
  let duplicated = 0;
  let qos2Sent = 0;
  let qos2Lost = 0;
  let qos2Duplicated = 0;
  for (let i = 0; i < sent; i++) {
    if (qosOf[i] === 2) {
      qos2Sent++;
      if (seen[i] === 0) qos2Lost++;
      else qos2Duplicated += seen[i] - 1;
    }
    if (seen[i] === 0) lost++;
    else if (qosOf[i] === 1) duplicated += seen[i] - 1;
  }
  const last = await sample();
  progress(last, "end");
  await pub.close();
  subscriber.close();
  await proxy.close();
  await broker.close();

  // growth: least-squares slope after the warm-up (the first fifth, at least 15 s), during
  // traffic (the drain is not steady state). On Node the heap includes code the JIT keeps
  // optimizing for minutes (a few hundred KB), so the verdict uses the heap less code and
  // bytecode; a leak of 100 bytes a message at 200 msg/s would be 1.2 MB/min. The XS
  // figure is the publisher's client alone, with no JIT, counted in heap slots.
  const warmUp = Math.max(15, o.seconds / 5);
  const warm = samples.filter((s) => s.t >= warmUp && s.t <= o.seconds);
  // fewer than 20 s past the warm-up say more about the JIT than about leaks
  const memoryJudged = o.seconds - warmUp >= 20;
  const minutes = warm.map((s) => s.t / 60);
  const heapSlopeMBPerMin = slope(minutes, warm.map((s) => s.heapUsed / MB));
  const dataSlopeMBPerMin = slope(minutes, warm.map((s) => s.dataHeap / MB));
  const slotSlopePerMin = o.engine === "xs" ? slope(minutes, warm.map((s) => s.xsSlots)) : 0;
  const memoryGrows = memoryJudged && (dataSlopeMBPerMin > o.maxGrowthMBPerMin || slotSlopePerMin > o.maxSlotGrowthPerMin);
  const result: SoakResult = {
    engine: o.engine,
    broker: o.broker,
    seconds: Math.round(elapsed()),
    sent,
    received,
    duplicated,
    lost,
    qos2Sent,
    qos2Lost,
    qos2Duplicated,
    refused,
    reconnects: Math.max(0, counts.connects - 1),
    resent: Number(st.resent),
    faults,
    samples,
    heapSlopeMBPerMin,
    dataSlopeMBPerMin,
    slotSlopePerMin,
    memoryJudged,
    memoryGrows,
    ok: lost === 0 && qos2Duplicated === 0 && !memoryGrows && sent > 0,
  };
  o.log(
    `result: sent ${sent}, received ${received}, lost ${lost}; QoS 1 ${sent - qos2Sent} sent, ${duplicated} duplicated (allowed); ` +
      `QoS 2 ${qos2Sent} sent, ${qos2Lost} lost, ${qos2Duplicated} duplicated; refused ${refused}, reconnects ${result.reconnects}, resent ${result.resent}; ` +
      `faults ${JSON.stringify(faults)}; subscriber errors ${JSON.stringify(subErrors)}; heap slope ${heapSlopeMBPerMin.toFixed(3)} MB/min, without code ${dataSlopeMBPerMin.toFixed(3)} MB/min (limit ${o.maxGrowthMBPerMin})` +
      (o.engine === "xs" ? `, XS slot slope ${slotSlopePerMin.toFixed(1)}/min (limit ${o.maxSlotGrowthPerMin})` : "") +
      ` → ${lost === 0 ? "nothing lost" : "MESSAGES LOST"}, ${qos2Duplicated === 0 ? "QoS 2 exactly once" : "QoS 2 DUPLICATED"}, ${!memoryJudged ? "too short to judge memory (run 35 s or more)" : memoryGrows ? "MEMORY GROWS" : "memory flat"}`,
  );
  return result;
}

const USAGE = `usage: soak [--minutes N | --seconds N] [--broker aedes|mosquitto] [--engine ${ENGINE_NAMES.join("|")}] [--rate N] [--seed N] [--every S]`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        minutes: { type: "string" },
        seconds: { type: "string" },
        broker: { type: "string" },
        engine: { type: "string" },
        rate: { type: "string" },
        seed: { type: "string" },
        every: { type: "string" },
        help: { type: "boolean" },
      },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const num = (s: string | undefined, d: number) => (s === undefined ? d : Number(s));
  const seconds = values.seconds !== undefined ? num(values.seconds, 60) : num(values.minutes, 1) * 60;
  const broker = values.broker ?? "aedes";
  const engine = values.engine ?? "node";
  if (!(seconds > 0) || !["aedes", "mosquitto"].includes(broker) || !isEngineName(engine)) {
    console.error(USAGE);
    return 2;
  }
  const r = await runSoak({
    seconds,
    broker: broker as SoakOptions["broker"],
    engine,
    rate: num(values.rate, 200),
    seed: num(values.seed, Date.now() & 0xffff),
    every: num(values.every, 0),
  });
  console.log(`SOAK-RESULT ${JSON.stringify(r)}`);
  return r.ok ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
