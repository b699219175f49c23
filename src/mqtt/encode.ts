/**
 * MQTT 3.1.1 encoders (5.0's are in encode5.ts, which shares the helpers exported here): each `encodeX(buf, offset, fields)` writes one whole packet into
 * the caller's buffer at `offset` and returns the number of bytes written; `sizeOfX`
 * beside it returns that number without writing. Nothing is allocated. A packet that
 * does not fit throws {@link MqttError} `BufferTooSmall` before any byte is written.
 */
import { ErrorCode, MqttError } from "./errors.js";
import { FIRST_BYTE, PacketType, PUBLISH_DUP, PUBLISH_RETAIN } from "./packet.js";
import { utf8Length, writeUtf8, UTF8_HAS_WILDCARD } from "./utf8.js";

/** Binary fields accept bytes, or a string sent as its UTF-8. */
export type Bytes = Uint8Array | string;

/** Last will (§3.1.2.5). */
export interface WillFields {
  topic: string;
  payload: Bytes;
  qos: number;
  retain: boolean;
}

/** CONNECT fields (§3.1). */
export interface ConnectFields {
  clientId: string;
  /** Clean session flag (§3.1.2.4). */
  clean: boolean;
  /** Seconds, 0-65535; 0 turns keepalive off. */
  keepalive: number;
  will?: WillFields | null;
  username?: string | null;
  password?: Bytes | null;
}

/** PUBLISH fields (§3.3); the object is meant to be reused from message to message. */
export interface PublishFields {
  topic: string;
  /**
   * The topic's UTF-8, already validated (see `validateTopic`), or null. When given, the
   * encoder copies these bytes and does not read `topic`: the client caches them so a
   * repeated topic costs no string walk.
   */
  topicBytes?: Uint8Array | null;
  payload: Bytes;
  qos: number;
  retain: boolean;
  dup: boolean;
  /** 1-65535 for QoS 1 and 2; ignored for QoS 0. */
  packetId: number;
}

/** CONNACK fields (§3.2). */
export interface ConnackFields {
  sessionPresent: boolean;
  returnCode: number;
}

/** One SUBSCRIBE entry. */
export interface Subscription {
  topic: string;
  qos: number;
}

export interface SubscribeFields {
  packetId: number;
  subscriptions: readonly Subscription[];
}

export interface SubackFields {
  packetId: number;
  /** 0, 1, 2 or 0x80 per filter. */
  granted: readonly number[];
}

export interface UnsubscribeFields {
  packetId: number;
  topics: readonly string[];
}

/** Largest remaining length a four-byte varint holds (§2.2.3). */
export const MAX_REMAINING_LENGTH = 268435455;

const te = (msg: string) => new MqttError(ErrorCode.InvalidString, msg);

export function stringLength(s: string, what: string): number {
  const n = utf8Length(s);
  if (n < 0) throw te(`${what} is not sendable UTF-8 (lone surrogate or U+0000)`);
  if (n > 65535) throw new MqttError(ErrorCode.InvalidArgument, `${what} is longer than 65535 bytes`);
  return n;
}

export function bytesLength(b: Bytes, what: string): number {
  if (typeof b === "string") return stringLength(b, what);
  if (b.length > 65535) throw new MqttError(ErrorCode.InvalidArgument, `${what} is longer than 65535 bytes`);
  return b.length;
}

/** Bytes of the remaining-length varint for `n`. */
export function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

export function packetSize(remaining: number): number {
  if (remaining > MAX_REMAINING_LENGTH)
    throw new MqttError(ErrorCode.PacketTooLarge, `remaining length ${remaining} exceeds MQTT's ${MAX_REMAINING_LENGTH}`);
  return 1 + varintSize(remaining) + remaining;
}

export function room(buf: Uint8Array, offset: number, size: number): void {
  if (offset < 0 || offset + size > buf.length)
    throw new MqttError(ErrorCode.BufferTooSmall, `packet of ${size} bytes does not fit at offset ${offset} of a ${buf.length}-byte buffer`);
}

/** Writes the fixed header: `first`, then `remaining` as a varint; returns the offset of the variable header. */
export function header(buf: Uint8Array, o: number, first: number, remaining: number): number {
  buf[o++] = first;
  do {
    let b = remaining & 0x7f;
    remaining >>>= 7;
    if (remaining > 0) b |= 0x80;
    buf[o++] = b;
  } while (remaining > 0);
  return o;
}

export function u16(buf: Uint8Array, o: number, v: number): number {
  buf[o] = v >> 8;
  buf[o + 1] = v & 0xff;
  return o + 2;
}

/** Writes a length-prefixed string; the prefix is filled in after the bytes, so the string is walked once. */
export function str(buf: Uint8Array, o: number, s: string): number {
  const end = writeUtf8(buf, o + 2, s);
  u16(buf, o, end - o - 2);
  return end;
}

/** Writes binary data or a string's UTF-8, with a two-byte length prefix when `prefixed`. */
export function bin(buf: Uint8Array, o: number, b: Bytes, prefixed: boolean): number {
  const start = prefixed ? o + 2 : o;
  let end: number;
  if (typeof b === "string") end = writeUtf8(buf, start, b);
  else {
    buf.set(b, start);
    end = start + b.length;
  }
  if (prefixed) u16(buf, o, end - start);
  return end;
}

export function checkQoS(qos: number, what: string): void {
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new MqttError(ErrorCode.InvalidQoS, `${what} QoS must be 0, 1 or 2, not ${qos}`);
}

export function checkId(id: number): void {
  if (!(id >= 1 && id <= 65535 && (id | 0) === id))
    throw new MqttError(ErrorCode.InvalidArgument, id === 0 ? "a packet id (1-65535) is required" : `packet id must be 1-65535, not ${id}`);
}

/** Topic name length, refusing what §4.7 forbids in a name (empty, wildcards, over 65535 bytes). */
export function topicNameLength(topic: string, what: string): number {
  const n = typeof topic === "string" ? utf8Length(topic, true) : 0;
  if (n > 0 && n <= 65535) return n;
  throw new MqttError(
    ErrorCode.InvalidTopic,
    n === 0
      ? `${what} topic is empty`
      : n === UTF8_HAS_WILDCARD
        ? `${what} topic contains a wildcard: ${topic}`
        : n > 0
          ? `${what} topic is longer than 65535 bytes`
          : `${what} topic is not sendable UTF-8 (lone surrogate or U+0000)`,
  );
}

// ---- CONNECT ----

function connectRemaining(f: ConnectFields): number {
  if (!(Number.isInteger(f.keepalive) && f.keepalive >= 0 && f.keepalive <= 65535)) throw new MqttError(ErrorCode.InvalidArgument, `keepalive must be 0-65535, not ${f.keepalive}`);
  let n = 10 + 2 + stringLength(f.clientId, "client id");
  const w = f.will;
  if (w) {
    checkQoS(w.qos, "will");
    n += 2 + topicNameLength(w.topic, "will") + 2 + bytesLength(w.payload, "will payload");
  }
  if (f.username != null) n += 2 + stringLength(f.username, "user name");
  if (f.password != null) {
    if (f.username == null) throw new MqttError(ErrorCode.InvalidArgument, "a password needs a user name in MQTT 3.1.1 (§3.1.2.9)");
    n += 2 + bytesLength(f.password, "password");
  }
  return n;
}

/** Size of the CONNECT packet for `f`. */
export function sizeOfConnect(f: ConnectFields): number {
  return packetSize(connectRemaining(f));
}

/** Writes CONNECT (§3.1). Throws `InvalidString`, `InvalidQoS`, `InvalidArgument`, `BufferTooSmall`. */
export function encodeConnect(buf: Uint8Array, offset: number, f: ConnectFields): number {
  const remaining = connectRemaining(f);
  const size = packetSize(remaining);
  room(buf, offset, size);
  let o = header(buf, offset, FIRST_BYTE[PacketType.CONNECT], remaining);
  o = u16(buf, o, 4);
  buf[o++] = 0x4d; // M
  buf[o++] = 0x51; // Q
  buf[o++] = 0x54; // T
  buf[o++] = 0x54; // T
  buf[o++] = 4; // protocol level 3.1.1
  const w = f.will;
  let flags = f.clean ? 0x02 : 0;
  if (w) flags |= 0x04 | (w.qos << 3) | (w.retain ? 0x20 : 0);
  if (f.password != null) flags |= 0x40;
  if (f.username != null) flags |= 0x80;
  buf[o++] = flags;
  o = u16(buf, o, f.keepalive);
  o = str(buf, o, f.clientId);
  if (w) {
    o = str(buf, o, w.topic);
    o = bin(buf, o, w.payload, true);
  }
  if (f.username != null) o = str(buf, o, f.username);
  if (f.password != null) {
    o = bin(buf, o, f.password, true);
  }
  return o - offset;
}

// ---- CONNACK ----

/** Writes CONNACK (§3.2); 4 bytes. */
export function encodeConnack(buf: Uint8Array, offset: number, f: ConnackFields): number {
  if (!(Number.isInteger(f.returnCode) && f.returnCode >= 0 && f.returnCode <= 5)) throw new MqttError(ErrorCode.InvalidArgument, `CONNACK return code must be 0-5, not ${f.returnCode}`);
  room(buf, offset, 4);
  buf[offset] = FIRST_BYTE[PacketType.CONNACK];
  buf[offset + 1] = 2;
  buf[offset + 2] = f.sessionPresent ? 1 : 0;
  buf[offset + 3] = f.returnCode;
  return 4;
}

// ---- PUBLISH ----

/** The two sizes of one PUBLISH, as {@link measurePublish} fills them. */
export interface PublishSize {
  /** The remaining length (§2.2.3): variable header and payload. */
  remaining: number;
  /** The whole packet: first byte, remaining-length varint, remaining. */
  total: number;
}

/**
 * Measures a PUBLISH of a `topicLength`-byte topic, QoS `qos` and `payloadLength` bytes of
 * payload: fills `into` and returns `into.total`. The one place PUBLISH sizes are worked out;
 * no checks (the caller has validated topic and QoS), no allocation.
 */
export function measurePublish(into: PublishSize, topicLength: number, qos: number, payloadLength: number): number {
  const remaining = 2 + topicLength + (qos > 0 ? 2 : 0) + payloadLength;
  into.remaining = remaining;
  return (into.total = 1 + (remaining < 128 ? 1 : varintSize(remaining)) + remaining);
}

/** Checks `f` and measures it into `into`; throws as {@link encodePublish} does. */
function measureChecked(f: PublishFields, into: PublishSize): number {
  checkQoS(f.qos, "PUBLISH");
  if (f.qos > 0) checkId(f.packetId);
  else if (f.dup) throw new MqttError(ErrorCode.InvalidArgument, "DUP must be 0 on a QoS 0 PUBLISH (§3.3.1.1)");
  const p = f.payload;
  const t = f.topicBytes;
  measurePublish(into, t ? t.length : topicNameLength(f.topic, "PUBLISH"), f.qos, typeof p === "string" ? stringLengthAny(p) : p.length);
  if (into.remaining > MAX_REMAINING_LENGTH)
    throw new MqttError(ErrorCode.PacketTooLarge, `remaining length ${into.remaining} exceeds MQTT's ${MAX_REMAINING_LENGTH}`);
  return into.total;
}

/** A payload string has no 65535 limit, only the UTF-8 rule. */
export function stringLengthAny(s: string): number {
  const n = utf8Length(s);
  if (n < 0) throw te("payload string is not sendable UTF-8 (lone surrogate or U+0000)");
  return n;
}

const scratch: PublishSize = { remaining: 0, total: 0 };

/** Size of the PUBLISH packet for `f`. */
export function sizeOfPublish(f: PublishFields): number {
  return measureChecked(f, scratch);
}

/**
 * Writes PUBLISH (§3.3). Throws `InvalidTopic`, `InvalidQoS`, `InvalidArgument`
 * (packet id), `InvalidString`, `PacketTooLarge`, `BufferTooSmall`.
 */
export function encodePublish(buf: Uint8Array, offset: number, f: PublishFields): number {
  room(buf, offset, measureChecked(f, scratch));
  return writePublish(buf, offset, f, scratch.remaining);
}

const FIRST_BYTE_PUBLISH = FIRST_BYTE[PacketType.PUBLISH];

/**
 * Writes a PUBLISH whose remaining length the caller measured ({@link measurePublish}) and
 * made room for: no checks, so the client's hot path walks the fields once. `v5` writes an
 * MQTT 5 PUBLISH with no properties: a Property Length of 0 after the packet id (the
 * caller measured the payload one byte longer for it).
 */
export function writePublish(buf: Uint8Array, offset: number, f: PublishFields, remaining: number, v5 = false): number {
  // flat on purpose (header() inlined): each call costs XS dozens of compute units, and this is the hot path
  let o = offset;
  buf[o++] = FIRST_BYTE_PUBLISH | (f.dup ? PUBLISH_DUP : 0) | (f.qos << 1) | (f.retain ? PUBLISH_RETAIN : 0);
  let r = remaining;
  do {
    const b = r & 0x7f;
    r >>>= 7;
    buf[o++] = r > 0 ? b | 0x80 : b;
  } while (r > 0);
  const t = f.topicBytes;
  if (t) {
    const n = t.length;
    buf[o] = n >> 8;
    buf[o + 1] = n & 0xff;
    buf.set(t, o + 2);
    o += 2 + n;
  } else o = str(buf, o, f.topic);
  if (f.qos > 0) {
    buf[o++] = f.packetId >> 8;
    buf[o++] = f.packetId & 0xff;
  }
  if (v5) buf[o++] = 0; // MQTT 5: an empty property block (its Property Length, counted in `remaining`)
  const p = f.payload;
  if (typeof p === "string") o = writeUtf8(buf, o, p);
  else {
    buf.set(p, o);
    o += p.length;
  }
  return o - offset;
}

// ---- PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK ----

/** Writes a packet that carries only a packet id: PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK (`type`); 4 bytes. */
export function encodeAck(buf: Uint8Array, offset: number, type: number, packetId: number): number {
  checkId(packetId);
  room(buf, offset, 4);
  buf[offset] = FIRST_BYTE[type];
  buf[offset + 1] = 2;
  buf[offset + 2] = packetId >> 8;
  buf[offset + 3] = packetId & 0xff;
  return 4;
}

/** Writes PUBACK (§3.4); 4 bytes. */
export function encodePuback(buf: Uint8Array, offset: number, f: { packetId: number }): number {
  return encodeAck(buf, offset, PacketType.PUBACK, f.packetId);
}
/** Writes PUBREC (§3.5); 4 bytes. */
export function encodePubrec(buf: Uint8Array, offset: number, f: { packetId: number }): number {
  return encodeAck(buf, offset, PacketType.PUBREC, f.packetId);
}
/** Writes PUBREL (§3.6); 4 bytes. */
export function encodePubrel(buf: Uint8Array, offset: number, f: { packetId: number }): number {
  return encodeAck(buf, offset, PacketType.PUBREL, f.packetId);
}
/** Writes PUBCOMP (§3.7); 4 bytes. */
export function encodePubcomp(buf: Uint8Array, offset: number, f: { packetId: number }): number {
  return encodeAck(buf, offset, PacketType.PUBCOMP, f.packetId);
}
/** Writes UNSUBACK (§3.11); 4 bytes. */
export function encodeUnsuback(buf: Uint8Array, offset: number, f: { packetId: number }): number {
  return encodeAck(buf, offset, PacketType.UNSUBACK, f.packetId);
}

// ---- SUBSCRIBE, SUBACK, UNSUBSCRIBE ----

function subscribeRemaining(f: SubscribeFields): number {
  checkId(f.packetId);
  const subs = f.subscriptions;
  if (subs.length === 0) throw new MqttError(ErrorCode.InvalidArgument, "SUBSCRIBE needs at least one filter (§3.8.3)");
  let n = 2;
  for (let i = 0; i < subs.length; i++) {
    checkQoS(subs[i].qos, "SUBSCRIBE");
    n += 2 + filterLength(subs[i].topic) + 1;
  }
  return n;
}

export function filterLength(filter: string): number {
  const n = stringLength(filter, "topic filter");
  if (n === 0) throw new MqttError(ErrorCode.InvalidTopicFilter, "topic filter is empty");
  return n;
}

/** Size of the SUBSCRIBE packet for `f`. */
export function sizeOfSubscribe(f: SubscribeFields): number {
  return packetSize(subscribeRemaining(f));
}

/** Writes SUBSCRIBE (§3.8). Filters are not validated here: see `validateTopicFilter`. */
export function encodeSubscribe(buf: Uint8Array, offset: number, f: SubscribeFields): number {
  const remaining = subscribeRemaining(f);
  room(buf, offset, packetSize(remaining));
  let o = header(buf, offset, FIRST_BYTE[PacketType.SUBSCRIBE], remaining);
  o = u16(buf, o, f.packetId);
  const subs = f.subscriptions;
  for (let i = 0; i < subs.length; i++) {
    o = str(buf, o, subs[i].topic);
    buf[o++] = subs[i].qos;
  }
  return o - offset;
}

function subackRemaining(f: SubackFields): number {
  checkId(f.packetId);
  const g = f.granted;
  if (g.length === 0) throw new MqttError(ErrorCode.InvalidArgument, "SUBACK needs at least one return code");
  for (let i = 0; i < g.length; i++)
    if (g[i] !== 0 && g[i] !== 1 && g[i] !== 2 && g[i] !== 0x80)
      throw new MqttError(ErrorCode.InvalidArgument, `SUBACK return code must be 0, 1, 2 or 0x80, not ${g[i]}`);
  return 2 + g.length;
}

/** Size of the SUBACK packet for `f`. */
export function sizeOfSuback(f: SubackFields): number {
  return packetSize(subackRemaining(f));
}

/** Writes SUBACK (§3.9). */
export function encodeSuback(buf: Uint8Array, offset: number, f: SubackFields): number {
  const remaining = subackRemaining(f);
  room(buf, offset, packetSize(remaining));
  let o = header(buf, offset, FIRST_BYTE[PacketType.SUBACK], remaining);
  o = u16(buf, o, f.packetId);
  const g = f.granted;
  for (let i = 0; i < g.length; i++) buf[o++] = g[i];
  return o - offset;
}

function unsubscribeRemaining(f: UnsubscribeFields): number {
  checkId(f.packetId);
  const t = f.topics;
  if (t.length === 0) throw new MqttError(ErrorCode.InvalidArgument, "UNSUBSCRIBE needs at least one filter (§3.10.3)");
  let n = 2;
  for (let i = 0; i < t.length; i++) n += 2 + filterLength(t[i]);
  return n;
}

/** Size of the UNSUBSCRIBE packet for `f`. */
export function sizeOfUnsubscribe(f: UnsubscribeFields): number {
  return packetSize(unsubscribeRemaining(f));
}

/** Writes UNSUBSCRIBE (§3.10). */
export function encodeUnsubscribe(buf: Uint8Array, offset: number, f: UnsubscribeFields): number {
  const remaining = unsubscribeRemaining(f);
  room(buf, offset, packetSize(remaining));
  let o = header(buf, offset, FIRST_BYTE[PacketType.UNSUBSCRIBE], remaining);
  o = u16(buf, o, f.packetId);
  const t = f.topics;
  for (let i = 0; i < t.length; i++) o = str(buf, o, t[i]);
  return o - offset;
}

// ---- PINGREQ, PINGRESP, DISCONNECT ----

function empty(buf: Uint8Array, offset: number, type: number): number {
  room(buf, offset, 2);
  buf[offset] = FIRST_BYTE[type];
  buf[offset + 1] = 0;
  return 2;
}

/** Writes PINGREQ (§3.12); 2 bytes. */
export function encodePingreq(buf: Uint8Array, offset: number): number {
  return empty(buf, offset, PacketType.PINGREQ);
}
/** Writes PINGRESP (§3.13); 2 bytes. */
export function encodePingresp(buf: Uint8Array, offset: number): number {
  return empty(buf, offset, PacketType.PINGRESP);
}
/** Writes DISCONNECT (§3.14); 2 bytes. */
export function encodeDisconnect(buf: Uint8Array, offset: number): number {
  return empty(buf, offset, PacketType.DISCONNECT);
}
