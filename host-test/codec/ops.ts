/**
 * Codec operations the test suites run on both engines. Node imports this module
 * directly; inside XS, codec-entry.ts serves the same compiled file through the bridge.
 * Plain ECMAScript only, and every input and result is JSON, so the two engines can be
 * compared answer for answer.
 */
import { Decoder } from "../../src/mqtt/decode.js";
import { MqttError } from "../../src/mqtt/errors.js";
import { encodeObject, fromHex, PayloadAssembler, sizeOfObject as sizeOfObjectOf, toHex, type PacketObject } from "../../tools/inspect.js";
import type { Packet } from "../../src/mqtt/packet.js";
import * as E from "../../src/mqtt/encode.js";
import * as E5 from "../../src/mqtt/encode5.js";
import { Properties } from "../../src/mqtt/properties.js";
import { TopicCache } from "../../src/mqtt/topic-cache.js";

export interface Failure {
  name: string;
  code: string;
  message: string;
}

export interface Outcome {
  packets: PacketObject[];
  /** PUBLISH fragment deliveries (1 per message that fit the buffer). */
  deliveries: number;
  error?: Failure;
  /** Broken invariants: views outside their array, fragment sums that do not add up. */
  violations: string[];
}

function failure(e: unknown): Failure {
  if (e instanceof MqttError) return { name: e.name, code: e.code, message: e.message };
  const err = e as Error;
  return { name: (err && err.name) || "unknown", code: "", message: String((err && err.message) || e) };
}

/** Where the bytes of the current push lie: views into `data` must stay inside [start, end). */
interface Window {
  data: Uint8Array | null;
  start: number;
  end: number;
}

/**
 * Checks that everything the decoder handed out lies inside the bytes it was given: the
 * pushed window of the chunk (not merely the chunk's array, which may hold other bytes
 * around it), or its own receive buffer.
 */
function check(p: Packet, violations: string[], seen: { offset: number }, w: Window, buffer: Uint8Array, version: number): void {
  const ok = (c: boolean, what: string) => c || violations.push(`${what} (type ${p.type})`);
  let lo = 0;
  let hi = buffer.length;
  if (p.data === w.data) {
    lo = w.start;
    hi = w.end;
  } else if (p.data !== buffer) {
    violations.push(`a view into an array the decoder was never given (type ${p.type})`);
    return;
  }
  if (p.type === 3) {
    ok(p.topicStart >= lo + 2 && p.topicStart + p.topicLength <= p.payloadStart, "topic view outside the packet");
    ok(p.payloadStart <= p.payloadEnd && p.payloadEnd <= hi, "payload view past the end of the bytes pushed");
    ok(p.payloadOffset === seen.offset, "fragment offset does not follow the previous fragment");
    seen.offset = p.more ? p.payloadOffset + (p.payloadEnd - p.payloadStart) : 0;
    if (!p.more) ok(p.payloadOffset + (p.payloadEnd - p.payloadStart) === p.payloadLength, "fragments do not add up to payloadLength");
  } else if (p.type === 8 || p.type === 9 || p.type === 10 || (p.type === 11 && p.properties)) {
    ok(p.payloadStart >= lo && p.payloadStart <= p.payloadEnd && p.payloadEnd <= hi, "list view past the end of the bytes pushed");
  }
  const props = p.properties;
  if (version === 5 && props && p.type !== 1 && p.type !== 12 && p.type !== 13) {
    ok(props.data === p.data, "properties view another array than the packet");
    ok(props.start >= lo && props.start <= props.end && props.end <= hi, "properties view outside the bytes pushed");
    for (let i = 0; i < props.at.length; i++)
      if ((props.present >>> (i + 1)) & 1) ok(props.at[i] > 0 && props.start + props.at[i] < props.end, `property ${i} offset outside the block`);
  }
}

/**
 * Feeds `bytes` to a decoder in chunks whose sizes cycle through `chunks` (whole when
 * empty), four ways that must all give the same outcome:
 * - each chunk an exact-size copy (a read past `end` sees undefined), no topic cache;
 * - the same with a recent-topic cache (a topic it skips checking was checked when it went in);
 * - each chunk placed at a random offset inside a larger array of random bytes and pushed as
 *   `(array, start, end)`, with a receive buffer that starts full of random bytes, once
 *   without and once with the cache, each with its own random fill. A read before `start`
 *   or past `end`, of bytes a split packet left behind, or of receive-buffer bytes never
 *   filled, sees bytes that differ from run to run, so the outcomes differ and the case fails.
 */
export function decodeBytes(bytes: Uint8Array, bufferSize: number, chunks: readonly number[], version = 4, aliases = ALIASES): Outcome {
  const decodeWith = (bytes: Uint8Array, bufferSize: number, chunks: readonly number[], cache: number, fill: number) => decodeOnce(bytes, bufferSize, chunks, cache, fill, version, aliases);
  const out = decodeWith(bytes, bufferSize, chunks, 0, 0);
  const reference = JSON.stringify(out);
  const runs: [string, number, number][] = [
    ["a decoder with a topic cache", 2, 0],
    ["chunks inside random bytes", 0, 0x9e3779b9 ^ bytes.length],
    ["chunks inside other random bytes, with a topic cache", 2, 0x85ebca6b ^ (bytes.length * 7)],
  ];
  for (const [what, cache, fill] of runs) {
    const other = decodeWith(bytes, bufferSize, chunks, cache, fill);
    if (JSON.stringify(other) !== reference) {
      out.violations.push(`${what} gave another outcome`);
      for (const v of other.violations) out.violations.push(`${what}: ${v}`);
    }
  }
  return out;
}

/** The Topic Alias Maximum the 5.0 decoders announce, unless a test says otherwise. */
const ALIASES = 10;

/** Bytes on each side of a chunk placed inside random bytes. */
const MARGIN = 16;

/**
 * One decoding run. `fill` 0: exact-size copies; otherwise the seed of the random bytes
 * around each chunk (and in the fresh receive buffer), renewed around a chunk once it has
 * been pushed so that nothing left pointing into it keeps its value.
 */
function decodeOnce(bytes: Uint8Array, bufferSize: number, chunks: readonly number[], topicCache: number, fill: number, version: number, aliases: number): Outcome {
  const out: Outcome = { packets: [], deliveries: 0, violations: [] };
  const asm = new PayloadAssembler();
  const seen = { offset: 0 };
  const w: Window = { data: null, start: 0, end: 0 };
  const rnd = fill === 0 ? null : prng(fill);
  const noise = (a: Uint8Array, from: number, to: number) => {
    for (let k = from; k < to; k += 4) {
      const r = Math.floor(rnd!() * 4294967296);
      a[k] = r;
      a[k + 1] = r >> 8;
      a[k + 2] = r >> 16;
      a[k + 3] = r >> 24;
    }
  };
  const buffer = new Uint8Array(bufferSize);
  if (rnd) noise(buffer, 0, bufferSize);
  const arena = rnd ? new Uint8Array(bytes.length + 2 * MARGIN) : null;
  if (arena) noise(arena, 0, arena.length);
  const d = new Decoder(
    buffer,
    {
      onPacket(p) {
        if (p.type === 3) out.deliveries++;
        check(p, out.violations, seen, w, buffer, d.version);
        const o = asm.add(p, d.version);
        if (o) out.packets.push(o);
      },
    },
    { topicCache, protocolVersion: version, topicAliasMaximum: aliases },
  );
  let i = 0;
  let k = 0;
  try {
    while (i < bytes.length) {
      const size = chunks.length ? Math.max(1, chunks[k++ % chunks.length]) : bytes.length;
      const end = Math.min(bytes.length, i + size);
      const n = end - i;
      if (arena) {
        const at = Math.floor(rnd!() * (arena.length - n + 1));
        arena.set(bytes.subarray(i, end), at);
        w.data = arena;
        w.start = at;
        w.end = at + n;
        d.push(arena, at, at + n);
        noise(arena, Math.max(0, at - MARGIN), Math.min(arena.length, at + n + MARGIN));
      } else {
        // an exact-size copy: a read past `end` would see undefined, not a neighbour's byte
        const chunk = bytes.slice(i, end);
        w.data = chunk;
        w.start = 0;
        w.end = n;
        d.push(chunk);
      }
      i = end;
    }
  } catch (e) {
    out.error = failure(e);
    // after an error the decoder refuses input until reset
    try {
      d.push(new Uint8Array([0xc0, 0]));
      out.violations.push("decoder accepted input after an error");
    } catch (again) {
      if (again !== d.error) out.violations.push("decoder threw something new after an error");
    }
  }
  return out;
}

export function decodeHex(hex: string, bufferSize: number, chunks: number[], version = 4, aliases = ALIASES): Outcome {
  return decodeBytes(fromHex(hex), bufferSize, chunks, version, aliases);
}

/**
 * One 5.0 decoder with a topic cache of `slots` topics, fed one packet per push (each at
 * offset `at` of a fresh array), as a connection's decoder is: per packet, what it made of
 * it or its error. After an error the decoder is reset (a new connection), its cache kept;
 * before packet `lowerAt` its Topic Alias Maximum becomes `lowerTo` (a new connection
 * announcing less). So a property block kept from an earlier packet is tested against
 * what the current connection allows. A packet larger than `bufferSize` comes in fragments.
 */
export function decodeSteps(hexes: string[], slots: number, lowerAt = -1, lowerTo = 0, at = 3, bufferSize = 1024): { packet?: PacketObject; error?: Failure }[] {
  const out: { packet?: PacketObject; error?: Failure }[] = [];
  const asm = new PayloadAssembler();
  const d = new Decoder(bufferSize, { onPacket: (p) => void ((o) => o && out.push({ packet: o }))(asm.add(p, 5)) }, { topicCache: slots, protocolVersion: 5, topicAliasMaximum: ALIASES });
  hexes.forEach((hex, i) => {
    if (i === lowerAt) d.topicAliasMaximum = lowerTo;
    const bytes = fromHex(hex);
    const chunk = new Uint8Array(bytes.length + at + 5);
    chunk.set(bytes, at);
    try {
      d.push(chunk, at, at + bytes.length);
    } catch (e) {
      out.push({ error: failure(e) });
      d.reset();
    }
  });
  return out;
}

/**
 * A 5.0 decoder with a topic cache, given a packet record whose properties another
 * decoder made (so its cache cannot keep blocks through them), decoding `hex` `times`
 * times: what it made of each, to compare with a decoder of its own.
 */
export function sharedPacket(hex: string, times: number): (PacketObject | Failure)[] {
  const out: (PacketObject | Failure)[] = [];
  const asm = new PayloadAssembler();
  const first = new Decoder(64, { onPacket() {} }, { topicCache: 2, protocolVersion: 5 });
  const d = new Decoder(256, { onPacket: (p) => void out.push(asm.add(p, 5)!) }, { packet: first.packet, topicCache: 2, protocolVersion: 5, topicAliasMaximum: ALIASES });
  const bytes = fromHex(hex);
  for (let i = 0; i < times; i++)
    try {
      d.push(bytes);
    } catch (e) {
      out.push(failure(e));
    }
  return out;
}

/**
 * The topic cache's kept property blocks and 8-byte chunks that read as ±0: a block is
 * kept with a topic slot only when none of its chunks is ±0 (+0 and -0 compare equal with
 * different bytes). For each block (hex, 8 to 64 bytes), [kept, found again at another
 * offset, found when its last byte differs].
 */
export function keptBlocks(hexes: string[]): boolean[][] {
  const own = new Uint8Array(256);
  const cache = new TopicCache(2, 64, own);
  cache.enableBlocks();
  const props = new Properties(cache.at);
  const topic = [0x61, 0x2f, 0x62];
  return hexes.map((hex) => {
    const block = fromHex(hex);
    const d = new Uint8Array(256);
    d.set(topic, 10);
    d.set(block, 20);
    let slot = cache.find(d, 10, 3);
    if (slot < 0) slot = cache.add(d, 10, 3);
    props.clear(d, 20 + 1, 20 + block.length);
    const kept = cache.keepBlock(slot, d, 20, 20 + block.length, props, -1);
    const e = new Uint8Array(256);
    e.set(topic, 40);
    e.set(block, 101);
    const again = cache.find(e, 40, 3) === slot && cache.block(slot, e, 101, 256, props, -1) === 101 + block.length;
    e[101 + block.length - 1] ^= 0x01;
    const changed = cache.find(e, 40, 3) === slot && cache.block(slot, e, 101, 256, props, -1) >= 0;
    return [kept, again, changed];
  });
}

/** Encodes one packet object; returns its hex and the sizeOf figure where the type has one. */
export function encodeHex(o: PacketObject, bufferSize = 1 << 20, version = 4): { hex?: string; size?: number; error?: Failure } {
  const buf = new Uint8Array(bufferSize);
  try {
    const n = encodeObject(buf, 0, o, version);
    return { hex: toHex(buf, 0, n), size: sizeOfObject(o, version) };
  } catch (e) {
    return { error: failure(e) };
  }
}

/**
 * Encodes a QoS 0 PUBLISH to topic "t" with a zero payload that makes the remaining length
 * `remaining`; returns the first bytes as hex, the byte count and the sizeOf figure.
 */
export function encodeRemaining(remaining: number): { head: string; written: number; size: number } {
  const f = { topic: "t", payload: new Uint8Array(remaining - 3), qos: 0, retain: false, dup: false, packetId: 0 };
  const buf = new Uint8Array(remaining + 5);
  const n = E.encodePublish(buf, 0, f);
  return { head: toHex(buf, 0, 8), written: n, size: E.sizeOfPublish(f) };
}

/** sizeOfX for the packet, as MQTT `version`. */
export function sizeOfObject(o: PacketObject, version = 4): number {
  return sizeOfObjectOf(o, version);
}

export interface RoundTrip {
  /** bytes written by each encode, and its sizeOf figure */
  sizes: [number, number][];
  decoded: Outcome;
}

/** Encodes all packets into one stream, then decodes it under the given chunking. */
export function roundTrip(objs: PacketObject[], bufferSize: number, chunks: number[], version = 4): RoundTrip {
  let total = 0;
  const sizes: [number, number][] = [];
  for (const o of objs) total += sizeOfObject(o, version);
  const stream = new Uint8Array(total);
  let off = 0;
  for (const o of objs) {
    const n = encodeObject(stream, off, o, version);
    sizes.push([n, sizeOfObject(o, version)]);
    off += n;
  }
  return { sizes, decoded: decodeBytes(stream, bufferSize, chunks, version) };
}

/** Tries to write `o` into a buffer of `size` bytes filled with 0xee; reports the error and whether any byte changed. */
export function encodeTooSmall(o: PacketObject, size: number, version = 4): { error?: Failure; touched: boolean } {
  const guard = new Uint8Array(size).fill(0xee);
  try {
    encodeObject(guard, 0, o, version);
    return { touched: true };
  } catch (e) {
    let touched = false;
    for (let i = 0; i < size; i++) if (guard[i] !== 0xee) touched = true;
    return { error: failure(e), touched };
  }
}

/**
 * Encodes a PUBLISH with Correlation Data, and a CONNECT with a will payload, of 65,536
 * bytes made here (a hex string that long is slow to cross into XS); returns each error code.
 */
export function refuseLongBinary(): string[] {
  const big = new Uint8Array(65536);
  const buf = new Uint8Array(1 << 18);
  const codes: string[] = [];
  for (const f of [
    () => E5.encodePublish5(buf, 0, { topic: "a", payload: "", qos: 0, retain: false, dup: false, packetId: 0, properties: { correlationData: big } }),
    () => E5.encodeConnect5(buf, 0, { clientId: "c", clean: true, keepalive: 0, will: { topic: "w", payload: big, qos: 0, retain: false }, username: null, password: null }),
  ])
    try {
      f();
      codes.push("encoded");
    } catch (e) {
      codes.push(failure(e).code);
    }
  return codes;
}

/** sizeOfX's verdict on an object: its size, or the error it raises. */
export function sizeOfHex(o: PacketObject, version = 4): { size?: number; error?: Failure } {
  try {
    return { size: sizeOfObjectOf(o, version) };
  } catch (e) {
    return { error: failure(e) };
  }
}

/**
 * The version a `version` decoder has after the CONNECT `hex`, and after reset(): a CONNECT
 * sets the connection's version, a new connection starts from the one given.
 */
export function versionAcrossReset(hex: string, version: number): { afterConnect: number; afterReset: number } {
  const d = new Decoder(new Uint8Array(256), { onPacket() {} }, { protocolVersion: version });
  try {
    d.push(fromHex(hex), 0, hex.length / 2);
  } catch (e) {
    if (!(e instanceof MqttError)) throw e;
  }
  const afterConnect = d.version;
  d.reset();
  return { afterConnect, afterReset: d.version };
}

// ---- bounded fuzz ----

/** mulberry32: a small seeded PRNG, the same sequence on every engine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Valid packets the mutations start from: every type, split and oversize publishes. */
const SEEDS: PacketObject[] = [
  { cmd: "connect", clientId: "esp32-01", clean: false, keepalive: 60, will: { topic: "s/esp32-01/status", payload: "6f66666c696e65", qos: 1, retain: true }, username: "u", password: "7077" },
  { cmd: "connack", sessionPresent: true, returnCode: 0 },
  { cmd: "publish", topic: "sensors/esp32-01/temperature", payload: "7b2274223a32312e357d", qos: 0, retain: false, dup: false },
  { cmd: "publish", topic: "sensors/é/température", payload: "00".repeat(300), qos: 1, messageId: 7, retain: true, dup: true },
  { cmd: "puback", messageId: 1 },
  { cmd: "pubrec", messageId: 2 },
  { cmd: "pubrel", messageId: 3 },
  { cmd: "pubcomp", messageId: 4 },
  { cmd: "subscribe", messageId: 5, subscriptions: [{ topic: "a/+/c", qos: 1 }, { topic: "#", qos: 0 }] },
  { cmd: "suback", messageId: 5, granted: [1, 0x80] },
  { cmd: "unsubscribe", messageId: 6, unsubscriptions: ["a/+/c", "x"] },
  { cmd: "unsuback", messageId: 6 },
  { cmd: "pingreq" },
  { cmd: "pingresp" },
  { cmd: "disconnect" },
];

/** 5.0 packets the 5.0 mutations start from: every type, each property type, reason codes. */
const SEEDS_5: PacketObject[] = [
  {
    cmd: "connect",
    protocolVersion: 5,
    clientId: "esp32-01",
    clean: false,
    keepalive: 60,
    properties: { sessionExpiryInterval: 3600, receiveMaximum: 32, maximumPacketSize: 4096, topicAliasMaximum: 8, requestProblemInformation: true, userProperties: { fw: "0.1" } },
    will: { topic: "s/esp32-01/status", payload: "6f66666c696e65", qos: 1, retain: true, properties: { willDelayInterval: 5, messageExpiryInterval: 600, contentType: "text/plain", payloadFormatIndicator: true } },
    password: "7077",
  },
  {
    cmd: "connack",
    sessionPresent: true,
    reasonCode: 0,
    properties: { assignedClientIdentifier: "auto-1", serverKeepAlive: 30, receiveMaximum: 20, maximumQoS: 1, retainAvailable: false, maximumPacketSize: 65536, topicAliasMaximum: 10, wildcardSubscriptionAvailable: true, subscriptionIdentifiersAvailable: true, sharedSubscriptionAvailable: false },
  },
  { cmd: "connack", sessionPresent: false, reasonCode: 0x86, properties: { reasonString: "bad credentials" } },
  {
    cmd: "publish",
    topic: "sensors/esp32-01/temperature",
    payload: "7b2274223a32312e357d",
    qos: 0,
    retain: false,
    dup: false,
    properties: { topicAlias: 3, userProperties: { unit: "C", src: ["a", "b"] } },
  },
  { cmd: "publish", topic: "", payload: "00".repeat(300), qos: 1, messageId: 7, retain: true, dup: true, properties: { topicAlias: 3, subscriptionIdentifier: [1, 300], messageExpiryInterval: 9 } },
  { cmd: "publish", topic: "req/1", payload: "", qos: 2, messageId: 8, retain: false, dup: false, properties: { responseTopic: "res/1", correlationData: "0102", contentType: "json" } },
  { cmd: "puback", messageId: 1, reasonCode: 0 },
  { cmd: "puback", messageId: 1, reasonCode: 0x10 },
  { cmd: "pubrec", messageId: 2, reasonCode: 0x97, properties: { reasonString: "quota" } },
  { cmd: "pubrel", messageId: 3, reasonCode: 0x92 },
  { cmd: "pubcomp", messageId: 4, reasonCode: 0 },
  { cmd: "subscribe", messageId: 5, subscriptions: [{ topic: "a/+/c", qos: 1, nl: true, rap: true, rh: 2 }, { topic: "#", qos: 0, nl: false, rap: false, rh: 0 }], properties: { subscriptionIdentifier: 42 } },
  { cmd: "suback", messageId: 5, granted: [1, 0x80, 0xa2] },
  { cmd: "unsubscribe", messageId: 6, unsubscriptions: ["a/+/c", "x"], properties: { userProperties: { k: "v" } } },
  { cmd: "unsuback", messageId: 6, granted: [0, 0x11] },
  { cmd: "pingreq" },
  { cmd: "pingresp" },
  { cmd: "disconnect", reasonCode: 0 },
  { cmd: "disconnect", reasonCode: 0x8e, properties: { reasonString: "taken over", serverReference: "other:1883", sessionExpiryInterval: 0 } },
  { cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: "SCRAM", authenticationData: "abcd" } },
];

export interface FuzzReport {
  cases: number;
  packets: number;
  protocolErrors: number;
  codes: Record<string, number>;
  /** anything but a ProtocolError thrown, or an invariant broken: must stay empty */
  failures: string[];
}

/**
 * Runs `count` inputs: mutated encodings of valid packet streams (byte flips, inserts,
 * deletions, truncations, splices) and pure noise, each under a random chunking.
 */
export function fuzz(seed: number, count: number, bufferSize: number, version = 4): FuzzReport {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const seeds = (version === 5 ? SEEDS_5 : SEEDS).map((o) => {
    const buf = new Uint8Array(4096);
    return buf.slice(0, encodeObject(buf, 0, o, version));
  });
  const report: FuzzReport = { cases: 0, packets: 0, protocolErrors: 0, codes: {}, failures: [] };
  for (let c = 0; c < count; c++) {
    let bytes: number[] = [];
    if (int(10) === 0) {
      const n = int(64);
      for (let i = 0; i < n; i++) bytes.push(int(256));
    } else {
      const parts = 1 + int(4);
      for (let i = 0; i < parts; i++) for (const b of seeds[int(seeds.length)]) bytes.push(b);
      const mutations = 1 + int(4);
      for (let m = 0; m < mutations && bytes.length > 0; m++) {
        const at = int(bytes.length);
        switch (int(6)) {
          case 0:
            bytes[at] ^= 1 << int(8);
            break;
          case 1:
            bytes[at] = int(256);
            break;
          case 2:
            bytes.splice(at, 0, int(256));
            break;
          case 3:
            bytes.splice(at, 1 + int(4));
            break;
          case 4:
            bytes = bytes.slice(0, at);
            break;
          default:
            bytes[at] = [0x00, 0x7f, 0x80, 0xff, 0xc0, 0xed, 0xf4][int(7)];
        }
      }
    }
    const chunks: number[] = [];
    const nc = int(4);
    for (let i = 0; i < nc; i++) chunks.push(1 + int(40));
    let out: Outcome;
    try {
      out = decodeBytes(new Uint8Array(bytes), bufferSize, chunks, version);
    } catch (e) {
      report.failures.push(`case ${c}: threw outside push: ${failure(e).message}`);
      continue;
    }
    report.cases++;
    report.packets += out.packets.length;
    for (const v of out.violations) report.failures.push(`case ${c}: ${v}`);
    if (out.error) {
      if (out.error.name !== "ProtocolError") report.failures.push(`case ${c}: ${out.error.name} ${out.error.message} on ${toHex(new Uint8Array(bytes))}`);
      else {
        report.protocolErrors++;
        report.codes[out.error.code] = (report.codes[out.error.code] ?? 0) + 1;
      }
    }
    if (report.failures.length > 20) break;
  }
  return report;
}
