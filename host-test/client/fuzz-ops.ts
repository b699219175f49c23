/**
 * Hostile input for the client, over an in-memory platform: a transport the test feeds
 * and watches, a timer driven by a manual clock. Recorded broker sessions are mutated
 * (flip, insert, delete, truncate, splice, ...) and fed in random chunks; every case must
 * end in normal processing or a clean protocol-error disconnect followed by a reconnect on
 * the next timer, never an exception out of the client, a view outside its array, or a
 * client that cannot connect again. Each chunk lies inside random bytes, and every case
 * runs twice with different random bytes around its chunks: the transcripts (what the
 * application saw, a hash of what the client wrote, its counters) must match, so a read
 * outside the window pushed changes the outcome and fails the case.
 *
 * Plain ECMAScript, JSON in and out: the same compiled file runs on Node and inside XS
 * (fuzz-xs-entry.ts), so both engines meet the same inputs from the same seeds.
 */
import { MqttClient, type ClientOptions } from "../../src/mqtt/client.js";
import { ErrorCode, MqttError, ProtocolCode, ProtocolError } from "../../src/mqtt/errors.js";
import { fromHex, toHex } from "../../tools/inspect.js";
import type { Message } from "../../src/mqtt/message.js";
import type { BrokerAddress, Platform, Timer, Transport, TransportSink } from "../../src/mqtt/platform.js";

/** xorshift32: small, seedable, the same sequence on every engine. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
    for (let i = 0; i < 4; i++) this.next();
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.s = x;
    return x;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }
  float(): number {
    return this.next() / 4294967296;
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  /** A generator that continues with the same sequence from here. */
  clone(): Rng {
    const r = new Rng(1);
    r.s = this.s;
    return r;
  }
  /** Fills `a[from, to)` with random bytes. */
  fill(a: Uint8Array, from: number, to: number): void {
    for (let k = from; k < to; k++) a[k] = this.next();
  }
}

/** A transport whose peer is the test: it counts what the client writes. */
export class FakeTransport implements Transport {
  closed = false;
  /** The test has delivered onConnect. */
  opened = false;
  written = 0;
  /** FNV-1a over every byte taken, so two runs can compare what was written. */
  hash = 0x811c9dc5;
  /** Bytes accepted per write; -1 takes everything (no backpressure). */
  accept = -1;
  constructor(
    readonly broker: BrokerAddress,
    readonly sink: TransportSink,
  ) {}
  write(data: Uint8Array, start: number, end: number): number {
    if (this.closed) return 0;
    let n = end - start;
    if (this.accept >= 0 && n > this.accept) n = this.accept;
    this.written += n;
    let h = this.hash;
    for (let i = start; i < start + n; i++) h = Math.imul(h ^ data[i], 0x01000193);
    this.hash = h;
    return n;
  }
  writePacket(head: Uint8Array, body: Uint8Array): boolean {
    if (this.closed) return false;
    if (this.accept >= 0 && head.length + body.length > this.accept) return false;
    this.write(head, 0, head.length);
    this.write(body, 0, body.length);
    return true;
  }
  close(): void {
    this.closed = true;
  }
}

/** A platform with a manual clock that starts just below the 32-bit wrap. */
export class FakePlatform implements Platform {
  nowMs: number;
  armed = false;
  deadline = 0;
  readonly transports: FakeTransport[] = [];
  private callback: () => void = () => undefined;
  constructor(
    private rng: Rng,
    start: number,
  ) {
    this.nowMs = start >>> 0;
  }
  connect(broker: BrokerAddress, sink: TransportSink): Transport {
    const t = new FakeTransport(broker, sink);
    this.transports.push(t);
    return t;
  }
  timer(callback: () => void): Timer {
    this.callback = callback;
    const self = this;
    return {
      set(ms: number) {
        self.armed = true;
        self.deadline = (self.nowMs + ms) >>> 0;
      },
      clear() {
        self.armed = false;
      },
    };
  }
  now(): number {
    return this.nowMs;
  }
  random(): number {
    return this.rng.float();
  }
  /** Moves the clock to the armed deadline and fires the timer; false when none is armed. */
  fire(): boolean {
    if (!this.armed) return false;
    this.nowMs = this.deadline;
    this.armed = false;
    this.callback();
    return true;
  }
  /** Moves the clock `ms` forward, firing the timer whenever its deadline is passed. */
  advance(ms: number): void {
    const target = (this.nowMs + ms) >>> 0;
    for (let k = 0; k < 16; k++) {
      if (!this.armed || ((target - this.deadline) >>> 0) >= 0x80000000) break;
      this.fire();
    }
    this.nowMs = target;
  }
  get last(): FakeTransport {
    return this.transports[this.transports.length - 1];
  }
}

// ---- the corpus: where packets start in a valid session, for targeted mutations ----

/** Offsets of each packet's first byte and of its remaining-length bytes, in a well-formed stream. */
function landmarks(s: Uint8Array): number[] {
  const marks: number[] = [];
  let i = 0;
  while (i < s.length) {
    marks.push(i);
    let n = 0;
    let mul = 1;
    let k = i + 1;
    for (; k < s.length && k < i + 5; k++) {
      marks.push(k);
      n += (s[k] & 0x7f) * mul;
      mul *= 128;
      if ((s[k] & 0x80) === 0) break;
    }
    i = k + 1 + n;
  }
  return marks;
}

const INTERESTING = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0xfe, 0x20, 0x30, 0x32, 0x34, 0x36, 0x3b, 0x40, 0x50, 0x62, 0x60, 0x70, 0x90, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x23, 0x2b];

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** One random mutation of `b` (a fresh array); `other` feeds splices. */
function mutateOnce(b: Uint8Array, marks: number[], other: Uint8Array, rng: Rng): Uint8Array {
  const len = b.length;
  const at = (): number => (marks.length > 0 && rng.chance(0.5) ? marks[rng.int(marks.length)] : rng.int(len + 1));
  switch (rng.int(9)) {
    case 0: {
      // flip a bit
      if (len === 0) return b;
      const i = Math.min(at(), len - 1);
      const c = b.slice();
      c[i] ^= 1 << rng.int(8);
      return c;
    }
    case 1: {
      // an interesting byte
      if (len === 0) return b;
      const i = Math.min(at(), len - 1);
      const c = b.slice();
      c[i] = rng.pick(INTERESTING);
      return c;
    }
    case 2: {
      // insert random bytes
      const i = at();
      const ins = new Uint8Array(1 + rng.int(8));
      for (let k = 0; k < ins.length; k++) ins[k] = rng.chance(0.5) ? rng.pick(INTERESTING) : rng.int(256);
      return concat(concat(b.subarray(0, i), ins), b.subarray(i));
    }
    case 3: {
      // delete a range
      const i = at();
      const n = 1 + rng.int(16);
      return concat(b.subarray(0, i), b.subarray(Math.min(len, i + n)));
    }
    case 4:
      // truncate
      return b.slice(0, at());
    case 5: {
      // splice: a prefix of this session, a suffix of another
      const j = rng.int(other.length + 1);
      return concat(b.subarray(0, at()), other.subarray(j));
    }
    case 6: {
      // repeat a segment
      const i = at();
      const n = 1 + rng.int(24);
      const seg = b.subarray(i, Math.min(len, i + n));
      return concat(concat(b.subarray(0, i), seg), b.subarray(i));
    }
    case 7: {
      // a 16-bit field (topic length, packet id) set to an edge value
      if (len < 2) return b;
      const i = Math.min(at(), len - 2);
      const c = b.slice();
      const v = rng.pick([0, 1, 0xffff, 0x8000, 0x7fff, rng.int(0x10000)]);
      c[i] = v >> 8;
      c[i + 1] = v & 0xff;
      return c;
    }
    default: {
      // a remaining length with continuation bits
      const i = at();
      const ins = rng.pick([[0xff, 0xff, 0xff, 0x7f], [0x80, 0x80, 0x80, 0x80, 0x01], [0x80, 0x00], [0xff, 0x7f]]);
      return concat(concat(b.subarray(0, i), new Uint8Array(ins)), b.subarray(i));
    }
  }
}

// ---- one case ----

/** Error codes a case may report besides a protocol error: each is a clean, typed end. */
const ALLOWED = [ErrorCode.ConnectionRefused, ErrorCode.SubscriptionRefused, ErrorCode.KeepaliveTimeout, ErrorCode.ConnectTimeout, ErrorCode.ProtocolError, ErrorCode.BufferTooSmall];
const PROTOCOL_CODES: string[] = Object.keys(ProtocolCode);

export interface FuzzSummary {
  cases: number;
  /** No error reported. */
  normal: number;
  /** A ProtocolError was reported and the client disconnected and reconnected. */
  protocolErrors: number;
  /** The CONNACK (as mutated) refused the connection; the client backed off and retried. */
  refused: number;
  /** Another typed end: keepalive or connect timeout, refused subscription, full send buffer. */
  otherErrors: number;
  /** Cases whose client was brought back to connected after an error (each error case). */
  recovered: number;
  /** Messages and fragments the handlers saw. */
  messages: number;
  bytesFed: number;
  /** Stale transport events sent after the client closed it (all must be ignored). */
  staleEvents: number;
  /** Protocol error codes seen, with counts. */
  codes: Record<string, number>;
  /** Other error codes seen, with counts. */
  otherCodes: Record<string, number>;
  /** Broken promises, with what reproduces them; must stay empty. */
  failures: { case: number; problem: string; input: string }[];
}

const CONNACK = new Uint8Array([0x20, 0x02, 0x00, 0x00]);
const PUBLISH_OK = fromHex("320c00056f6b2f7a7a002a6f6b21"); // QoS 1 "ok/zz" id 42 "ok!"

function checkMessage(m: Message, problems: string[]): void {
  const n = m.data.length;
  if (!(m.topicStart >= 0 && m.topicLength >= 1 && m.topicStart + m.topicLength <= m.payloadStart)) problems.push("topic view outside the packet");
  if (!(m.payloadStart <= m.payloadEnd && m.payloadEnd <= n)) problems.push(`payload view [${m.payloadStart}, ${m.payloadEnd}) outside ${n} bytes`);
  if (!(m.payloadOffset >= 0 && m.payloadOffset + (m.payloadEnd - m.payloadStart) <= m.payloadLength)) problems.push("fragment past the payload length");
  if (m.qos < 0 || m.qos > 2) problems.push(`message QoS ${m.qos}`);
  const t = m.topic;
  if (t.length === 0 || t.indexOf("+") >= 0 || t.indexOf("#") >= 0) problems.push(`invalid topic delivered: ${t}`);
  if (m.bytes().length !== m.payloadEnd - m.payloadStart) problems.push("payload copy has the wrong length");
}

/**
 * Runs one case; returns its transcript (what the application saw, what the client wrote),
 * which depends on the input and `rng` only: `noise` fills the bytes around every chunk fed,
 * so two runs that differ only in `noise` must return the same transcript.
 */
function runCase(input: Uint8Array, rng: Rng, sum: FuzzSummary, index: number, noise: Rng): string {
  const platform = new FakePlatform(rng, 0xffffffff - rng.int(20000));
  const problems: string[] = [];
  const errors: MqttError[] = [];
  const log: string[] = [];
  let events = 0;
  let messages = 0;
  const handler = (m: Message) => {
    events++;
    messages++;
    checkMessage(m, problems);
    log.push(`m ${m.topic} ${m.payloadOffset} ${toHex(m.bytes())}`);
  };
  const options: ClientOptions = {
    clientId: "fuzz",
    brokers: [
      { host: "a", port: 1 },
      { host: "b", port: 2 },
    ],
    keepalive: rng.pick([0, 1, 5, 60]),
    receiveBufferSize: rng.pick([16, 24, 64, 256, 1024]),
    sendBufferSize: rng.pick([64, 128, 512]),
    outboxBytes: 1024,
    inflightWindow: 1 + rng.int(4),
    oversize: rng.chance(0.5) ? "drop" : "fragment",
    reconnect: { min: 10, max: 200 },
    connectTimeout: 500,
    onConnect: (present) => void (events++, log.push(`c ${present}`)),
    onDisconnect: (e) => void (events++, log.push(`d ${e?.code}`)),
    onDelivered: (token) => void (events++, log.push(`v ${token}`)),
    onDrop: (reason, token) => void (events++, log.push(`x ${reason} ${token}`)),
    onMessage: handler,
    onError: (e) => {
      events++;
      errors.push(e);
      log.push(`e ${e.code} ${e.message}`);
    },
  };
  const client = new MqttClient(options, platform);
  client.subscribe("#", { qos: 2, handler });
  client.subscribe("fz/+", { qos: 1, handler: rng.chance(0.5) ? handler : null });
  client.subscribe("$SYS/#", { qos: 0 });
  client.publish("fz/q1", "one", { qos: 1 });
  client.publish("fz/q0", "zero", { qos: 0 });
  client.publish("fz/q1", "two", { qos: 1 });
  client.connect();
  const t1 = platform.last;
  t1.opened = true;
  t1.sink.onConnect();

  // feed in random chunks, each copied into a scratch buffer of random bytes at a random
  // offset and scribbled over afterwards: the client may read nothing outside the window
  // and keep nothing that points into it
  const scratch = new Uint8Array(512);
  noise.fill(scratch, 0, scratch.length);
  let i = 0;
  while (i < input.length) {
    const n = 1 + rng.int(rng.chance(0.3) ? 4 : 256);
    const e = Math.min(input.length, i + n);
    const off = rng.int(scratch.length - (e - i) + 1);
    scratch.set(input.subarray(i, e), off);
    const stale = t1.closed;
    const before = events;
    t1.sink.onData(scratch, off, off + (e - i));
    noise.fill(scratch, off, off + (e - i));
    if (stale) {
      sum.staleEvents++;
      if (events !== before) problems.push("data on a closed transport reached the application");
    }
    sum.bytesFed += e - i;
    i = e;
    // now and then: backpressure, a writable event, time passing
    const r = rng.int(100);
    if (r < 4) t1.accept = rng.int(6);
    else if (r < 12 && t1.accept >= 0) {
      t1.accept = -1;
      if (!t1.closed) t1.sink.onWritable();
    } else if (r < 15) platform.advance(rng.int(1500));
  }
  t1.accept = -1;
  if (!t1.closed) t1.sink.onWritable();

  let protocol = 0;
  let refused = 0;
  let other = 0;
  for (const e of errors) {
    if (e instanceof ProtocolError) {
      protocol++;
      if (PROTOCOL_CODES.indexOf(e.code) < 0) problems.push(`ProtocolError with an unknown code ${e.code}`);
      sum.codes[e.code] = (sum.codes[e.code] ?? 0) + 1;
      continue;
    }
    sum.otherCodes[e.code] = (sum.otherCodes[e.code] ?? 0) + 1;
    if (e.code === ErrorCode.ConnectionRefused) refused++;
    else if (ALLOWED.indexOf(e.code as (typeof ALLOWED)[number]) >= 0) other++;
    else problems.push(`unexpected error ${e.name} ${e.code}: ${e.message}`);
  }
  if (protocol > 0) {
    // a protocol error closes the connection at once and schedules a reconnect, which the
    // next timer makes (unless time passing already did)
    if (!t1.closed) problems.push("protocol error, but the transport is still open");
    if (platform.transports.length === 1) {
      if (client.connected) problems.push("protocol error, but the client says it is connected");
      if (!platform.armed) problems.push("protocol error, but no reconnect is scheduled");
      platform.fire();
      if ((platform.transports.length as number) !== 2) problems.push("the timer after a protocol error did not reconnect");
    }
  }
  if (protocol > 0 || refused > 0 || other > 0 || !client.connected) {
    // bring the client back: open whatever transport it makes, answer with a CONNACK
    for (let k = 0; k < 12 && !client.connected; k++) {
      const t = platform.last;
      if (!t.opened && !t.closed) {
        t.opened = true;
        t.sink.onConnect();
        t.sink.onData(CONNACK, 0, CONNACK.length);
      } else if (!platform.fire()) break;
    }
    if (!client.connected) problems.push("the client did not connect again");
    else {
      const t = platform.last;
      if (t === t1) {
        // connected on the first transport after all (e.g. a CONNACK completed by the
        // trailing bytes): nothing to prove here
      } else {
        // usable: a message is dispatched and acknowledged on the new connection
        const before = messages;
        const wrote = t.written;
        t.sink.onData(PUBLISH_OK, 0, PUBLISH_OK.length);
        if (messages === before) problems.push("no message dispatched after reconnecting");
        if (t.written <= wrote) problems.push("no PUBACK written after reconnecting");
        sum.recovered++;
      }
    }
  }
  if (client.stats.delivered > client.stats.published) problems.push("more deliveries than publishes");
  sum.messages += messages;
  if (protocol > 0) sum.protocolErrors++;
  else if (refused > 0) sum.refused++;
  else if (other > 0) sum.otherErrors++;
  else sum.normal++;
  client.close();
  if (problems.length > 0 && sum.failures.length < 5) sum.failures.push({ case: index, problem: problems.join("; "), input: toHex(input) });
  for (const t of platform.transports) log.push(`w ${t.written} ${t.hash >>> 0}`);
  log.push(JSON.stringify(client.stats));
  return log.join("\n");
}

/**
 * Runs `count` cases numbered from `first`, each from `seed` and its number (so any case
 * can be replayed alone), over the given recorded sessions (hex, broker to client).
 */
export function fuzz(sessions: string[], seed: number, first: number, count: number): FuzzSummary {
  const corpus = sessions.map((h) => fromHex(h));
  const marks = corpus.map(landmarks);
  const sum: FuzzSummary = { cases: 0, normal: 0, protocolErrors: 0, refused: 0, otherErrors: 0, recovered: 0, messages: 0, bytesFed: 0, staleEvents: 0, codes: {}, otherCodes: {}, failures: [] };
  for (let c = first; c < first + count; c++) {
    const rng = new Rng((seed ^ Math.imul(c + 1, 0x9e3779b1)) >>> 0);
    const k = rng.int(corpus.length);
    let input = corpus[k];
    const rounds = rng.chance(0.05) ? 0 : 1 + rng.int(4);
    for (let r = 0; r < rounds; r++) input = mutateOnce(input, r === 0 ? marks[k] : [], corpus[rng.int(corpus.length)], rng);
    try {
      const again = rng.clone();
      const seen = runCase(input, rng, sum, c, new Rng(seed ^ c));
      // the same case with other bytes around every chunk: the same story, or a read outside the window
      const throwaway: FuzzSummary = { ...sum, codes: {}, otherCodes: {}, failures: [] };
      if (runCase(input, again, throwaway, c, new Rng(~(seed ^ c))) !== seen && sum.failures.length < 5)
        sum.failures.push({ case: c, problem: "other bytes around the chunks fed changed what the client did: a read outside the window pushed", input: toHex(input) });
    } catch (e) {
      const err = e as Error;
      if (sum.failures.length < 5) sum.failures.push({ case: c, problem: `exception out of the client: ${err && err.name}: ${err && err.message}`, input: toHex(input) });
      sum.normal++; // counted somewhere so the totals add up; the failure fails the run
    }
    sum.cases++;
  }
  return sum;
}

/** Feeds one unmutated session whole and in one-byte chunks; reports what happened. */
export function replay(session: string): { connected: boolean[]; messages: number[]; errors: string[] } {
  const out = { connected: [] as boolean[], messages: [] as number[], errors: [] as string[] };
  const bytes = fromHex(session);
  for (const chunk of [bytes.length, 1]) {
    const platform = new FakePlatform(new Rng(1), 0);
    let messages = 0;
    const client = new MqttClient(
      {
        clientId: "replay",
        brokers: [{ host: "a", port: 1 }],
        receiveBufferSize: 256,
        onMessage: () => void messages++,
        onError: (e) => void out.errors.push(`${e.code}: ${e.message}`),
      },
      platform,
    );
    client.subscribe("#", { qos: 2 });
    client.connect();
    const t = platform.last;
    t.sink.onConnect();
    for (let i = 0; i < bytes.length; i += chunk) t.sink.onData(bytes, i, Math.min(bytes.length, i + chunk));
    out.connected.push(client.connected);
    out.messages.push(messages);
    client.close();
  }
  return out;
}

// ---- API misuse ----

export interface MisuseRow {
  call: string;
  /** The error's code, or "none" when the call returned. */
  code: string;
  /** Whether it was an MqttError (typed). */
  typed: boolean;
  /** Bytes the client wrote because of the call. */
  sent: number;
  connected: boolean;
}

/**
 * Makes a connected client on the fake platform, then tries each misuse in turn and
 * records what it threw and whether anything was written; finishes with calls that must
 * work, then closes and tries everything again.
 */
export function misuse(): { rows: MisuseRow[]; afterwards: { published: boolean; acked: boolean }; closedWrites: number } {
  const platform = new FakePlatform(new Rng(7), 1000);
  let delivered = 0;
  const client = new MqttClient({ clientId: "misuse", brokers: [{ host: "a", port: 1 }], maxPacketSize: 200, outboxBytes: 1024, onDelivered: () => void delivered++ }, platform);
  client.connect();
  const t = platform.last;
  t.sink.onConnect();
  t.sink.onData(CONNACK, 0, CONNACK.length);
  const rows: MisuseRow[] = [];
  const attempt = (call: string, f: () => unknown) => {
    const before = t.written;
    let code = "none";
    let typed = false;
    try {
      f();
    } catch (e) {
      typed = e instanceof MqttError;
      code = typed ? (e as MqttError).code : `${(e as Error)?.name}`;
    }
    rows.push({ call, code, typed, sent: t.written - before, connected: client.connected });
  };
  const c = client as unknown as {
    publish(topic: unknown, payload: unknown, options?: unknown): number;
    subscribe(filter: unknown, options?: unknown): void;
    unsubscribe(filter: unknown): void;
  };
  const long = "x".repeat(70000);
  attempt("publish wildcard +", () => c.publish("a/+/b", "x"));
  attempt("publish wildcard #", () => c.publish("a/#", "x"));
  attempt("publish empty topic", () => c.publish("", "x"));
  attempt("publish topic with U+0000", () => c.publish("a\u0000b", "x"));
  attempt("publish topic with a lone surrogate", () => c.publish("a\ud800", "x"));
  attempt("publish topic over 65535 bytes", () => c.publish(long, "x"));
  attempt("publish topic not a string", () => c.publish(42, "x"));
  attempt("publish topic undefined", () => c.publish(undefined, "x"));
  attempt("publish QoS 3", () => c.publish("a", "x", { qos: 3 }));
  attempt("publish QoS -1", () => c.publish("a", "x", { qos: -1 }));
  attempt("publish QoS 1.5", () => c.publish("a", "x", { qos: 1.5 }));
  attempt('publish QoS "1"', () => c.publish("a", "x", { qos: "1" }));
  attempt("publish payload a number", () => c.publish("a", 42, { qos: 1 }));
  attempt("publish payload an object", () => c.publish("a", { x: 1 }, { qos: 1 }));
  attempt("publish payload over maxPacketSize", () => c.publish("a", new Uint8Array(300), { qos: 1 }));
  attempt("publish payload over the outbox", () => c.publish("a", new Uint8Array(5000), { qos: 0 }));
  attempt("publish string payload with a lone surrogate", () => c.publish("a", "x\udc00", { qos: 1 }));
  attempt("subscribe misplaced #", () => c.subscribe("a/#/b"));
  attempt("subscribe misplaced +", () => c.subscribe("a+"));
  attempt("subscribe empty filter", () => c.subscribe(""));
  attempt("subscribe filter not a string", () => c.subscribe(7));
  attempt("subscribe QoS 3", () => c.subscribe("a", { qos: 3 }));
  attempt("unsubscribe misplaced #", () => c.unsubscribe("#/a"));
  attempt("unsubscribe filter not a string", () => c.unsubscribe(null));
  // still usable: a QoS 1 publish goes out and its PUBACK completes it
  const before = t.written;
  const token = client.publish("ok", "fine", { qos: 1 });
  const published = token > 0 && t.written > before;
  t.sink.onData(fromHex("40020001"), 0, 4); // the first id the client uses is 1
  const acked = delivered === 1 && client.queued === 0;
  client.close();
  const closedBefore = t.written;
  attempt("publish after close", () => c.publish("a", "x"));
  attempt("subscribe after close", () => c.subscribe("a"));
  attempt("unsubscribe after close", () => c.unsubscribe("a"));
  attempt("connect after close", () => client.connect());
  attempt("close twice", () => client.close());
  return { rows, afterwards: { published, acked }, closedWrites: t.written - closedBefore };
}
