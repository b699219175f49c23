/**
 * MQTT 5.0 encoders, as encode.ts's for 3.1.1: each `encodeX5(buf, offset, fields)` writes
 * one whole packet into the caller's buffer and returns its size, `sizeOfX5` beside it
 * returns that size without writing, and a packet that does not fit throws `BufferTooSmall`
 * before a byte is written. Properties are given with mqtt-packet's names
 * ({@link PropertiesFields}); each is checked for the packet it goes in (§2.2.2.2) and its
 * range, and they are written in the order of the object's keys (any order is valid). PINGREQ and PINGRESP are 3.1.1's.
 */
import { ErrorCode, MqttError } from "./errors.js";
import * as E from "./encode.js";
import type { Bytes, ConnectFields, PublishFields, WillFields } from "./encode.js";
import { FIRST_BYTE, PacketName, PacketType as T, PUBLISH_DUP, PUBLISH_RETAIN } from "./packet.js";
import { PROP_CONTEXTS, PROP_TYPE, PROPERTIES, PropType, WILL } from "./properties.js";
import { reasonAllowed } from "./reasons.js";
import { writeUtf8 } from "./utf8.js";

/** User properties as mqtt-packet gives them: a name, and a value or the values sent under it in order. */
export type UserProperties = Readonly<Record<string, string | readonly string[]>>;

/** MQTT 5.0 properties (§2.2.2.2), by mqtt-packet's names. The 0/1 ones take a boolean or 0/1. */
export interface PropertiesFields {
  payloadFormatIndicator?: boolean | number;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Bytes;
  /** In PUBLISH (from a broker) one or several; in SUBSCRIBE one. */
  subscriptionIdentifier?: number | readonly number[];
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Bytes;
  requestProblemInformation?: boolean | number;
  willDelayInterval?: number;
  requestResponseInformation?: boolean | number;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQoS?: number;
  retainAvailable?: boolean | number;
  userProperties?: UserProperties;
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: boolean | number;
  subscriptionIdentifiersAvailable?: boolean | number;
  sharedSubscriptionAvailable?: boolean | number;
}

export interface Will5Fields extends WillFields {
  properties?: PropertiesFields | null;
}

export interface Connect5Fields extends ConnectFields {
  /** Clean Start (§3.1.2.4). */
  clean: boolean;
  will?: Will5Fields | null;
  properties?: PropertiesFields | null;
}

export interface Connack5Fields {
  sessionPresent: boolean;
  reasonCode: number;
  properties?: PropertiesFields | null;
}

export interface Publish5Fields extends PublishFields {
  /** May be "" when `properties.topicAlias` is set (§3.3.2.3.4). */
  topic: string;
  properties?: PropertiesFields | null;
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP. */
export interface Ack5Fields {
  packetId: number;
  /** Default 0; 0 without properties is written in the two-byte short form. */
  reasonCode?: number;
  properties?: PropertiesFields | null;
}

/** One SUBSCRIBE entry with 5.0's subscription options (§3.8.3.1), by mqtt-packet's names. */
export interface Subscription5 {
  topic: string;
  qos: number;
  /** No Local. */
  nl?: boolean;
  /** Retain As Published. */
  rap?: boolean;
  /** Retain Handling, 0-2. */
  rh?: number;
}

export interface Subscribe5Fields {
  packetId: number;
  subscriptions: readonly Subscription5[];
  properties?: PropertiesFields | null;
}

/** SUBACK and UNSUBACK: a reason code per filter. */
export interface ReasonList5Fields {
  packetId: number;
  granted: readonly number[];
  properties?: PropertiesFields | null;
}

export interface Unsubscribe5Fields {
  packetId: number;
  topics: readonly string[];
  properties?: PropertiesFields | null;
}

/** DISCONNECT and AUTH. */
export interface Reason5Fields {
  reasonCode?: number;
  properties?: PropertiesFields | null;
}

const bad = (msg: string) => new MqttError(ErrorCode.InvalidArgument, msg);

/** Property names, for refusing a misspelt one. */
const KNOWN: Record<string, number> = Object.create(null);
for (let i = 0; i < PROPERTIES.length; i++) KNOWN[PROPERTIES[i][1]] = PROPERTIES[i][0];

function where(ctx: number): string {
  return ctx === WILL ? "the will properties" : PacketName[ctx].toUpperCase();
}

function integer(v: unknown, min: number, max: number, name: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw bad(`${name} must be an integer ${min}-${max}, not ${String(v)}`);
  return v;
}

function flag(v: unknown, name: string): number {
  if (v === true || v === 1) return 1;
  if (v === false || v === 0) return 0;
  throw bad(`${name} must be a boolean (or 0/1), not ${String(v)}`);
}

/** Bytes the value of one property takes, identifier included; throws on a value out of range. */
function propertySize(id: number, name: string, type: number, v: unknown, ctx: number): number {
  switch (type) {
    case PropType.Byte:
      if (id === 0x24) integer(v, 0, 1, name);
      else flag(v, name);
      return 2;
    case PropType.U16:
      integer(v, id === 0x21 || id === 0x23 ? 1 : 0, 65535, name);
      return 3;
    case PropType.U32:
      integer(v, id === 0x27 ? 1 : 0, 4294967295, name);
      return 5;
    case PropType.Varint: {
      if (typeof v === "number") return 1 + E.varintSize(integer(v, 1, 268435455, name));
      if (!Array.isArray(v) || ctx !== T.PUBLISH || v.length === 0) throw bad(`${name} in ${where(ctx)} must be a number 1-268435455`);
      let n = 0;
      for (let i = 0; i < v.length; i++) n += 1 + E.varintSize(integer(v[i], 1, 268435455, name));
      return n;
    }
    case PropType.Utf8:
      if (typeof v !== "string") throw bad(`${name} must be a string`);
      return 3 + (id === 0x08 ? E.topicNameLength(v, "Response") : E.stringLength(v, name));
    case PropType.Binary:
      if (typeof v !== "string" && !(v instanceof Uint8Array)) throw bad(`${name} must be bytes`);
      return 3 + E.bytesLength(v, name);
    default: {
      if (typeof v !== "object" || v === null) throw bad(`${name} must be an object of names and values`);
      let n = 0;
      const u = v as UserProperties;
      for (const key in u) {
        const kn = 5 + E.stringLength(key, "user property name");
        const value = u[key];
        if (typeof value === "string") n += kn + E.stringLength(value, "user property value");
        else if (Array.isArray(value))
          for (let i = 0; i < value.length; i++) {
            if (typeof value[i] !== "string") throw bad(`user property ${key} must be a string or strings`);
            n += kn + E.stringLength(value[i], "user property value");
          }
        else throw bad(`user property ${key} must be a string or strings`);
      }
      return n;
    }
  }
}

/**
 * The length of the properties `p` would take in packet type `ctx` (or the will, 0), not
 * counting the Property Length itself. Throws `InvalidArgument` for a property the packet
 * may not carry, an unknown name, or a value out of range.
 */
export function propertiesLength(p: PropertiesFields | null | undefined, ctx: number): number {
  if (p == null) return 0;
  const all = p as Record<string, unknown>;
  let n = 0;
  // one pass over the object's own keys (the order they are written in), not over the table
  for (const name in all) {
    const v = all[name];
    if (v === undefined || v === null) continue;
    const id = KNOWN[name];
    if (id === undefined) throw bad(`unknown property "${name}"`);
    if (((PROP_CONTEXTS[id] >> ctx) & 1) === 0) throw bad(`${name} is not allowed in ${where(ctx)}`);
    n += propertySize(id, name, PROP_TYPE[id], v, ctx);
  }
  if (all.authenticationData != null && all.authenticationMethod == null)
    throw bad("Authentication Data without an Authentication Method (§3.1.2.11.10)");
  return n;
}

function varint(buf: Uint8Array, o: number, v: number): number {
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    buf[o++] = b;
  } while (v > 0);
  return o;
}

function u32(buf: Uint8Array, o: number, v: number): number {
  buf[o] = v >>> 24;
  buf[o + 1] = (v >>> 16) & 0xff;
  buf[o + 2] = (v >>> 8) & 0xff;
  buf[o + 3] = v & 0xff;
  return o + 4;
}

/** Writes the Property Length `length` (from {@link propertiesLength}) and then the properties; returns the offset after them. */
export function writeProperties(buf: Uint8Array, o: number, p: PropertiesFields | null | undefined, length: number): number {
  o = varint(buf, o, length);
  if (p == null) return o;
  const all = p as Record<string, unknown>;
  for (const name in all) {
    const v = all[name];
    if (v === undefined || v === null) continue;
    const id = KNOWN[name];
    switch (PROP_TYPE[id]) {
      case PropType.Byte:
        buf[o++] = id;
        buf[o++] = v === true ? 1 : v === false ? 0 : (v as number);
        break;
      case PropType.U16:
        buf[o++] = id;
        o = E.u16(buf, o, v as number);
        break;
      case PropType.U32:
        buf[o++] = id;
        o = u32(buf, o, v as number);
        break;
      case PropType.Varint:
        if (typeof v === "number") {
          buf[o++] = id;
          o = varint(buf, o, v);
        } else
          for (let j = 0; j < (v as number[]).length; j++) {
            buf[o++] = id;
            o = varint(buf, o, (v as number[])[j]);
          }
        break;
      case PropType.Utf8:
        buf[o++] = id;
        o = E.str(buf, o, v as string);
        break;
      case PropType.Binary:
        buf[o++] = id;
        o = E.bin(buf, o, v as Bytes, true);
        break;
      default: {
        const u = v as UserProperties;
        for (const key in u) {
          const value = u[key];
          if (typeof value === "string") o = pair(buf, o, key, value);
          else for (let j = 0; j < value.length; j++) o = pair(buf, o, key, value[j]);
        }
      }
    }
  }
  return o;
}

/** One User Property: its identifier, name and value. */
function pair(buf: Uint8Array, o: number, key: string, value: string): number {
  buf[o++] = 0x26;
  return E.str(buf, E.str(buf, o, key), value);
}

/** A property block's whole size: the Property Length and the properties. */
function block(length: number): number {
  return E.varintSize(length) + length;
}

function checkReason(type: number, code: number): number {
  if (!(Number.isInteger(code) && reasonAllowed(type, code))) throw bad(`${PacketName[type].toUpperCase()} may not carry reason code ${code}`);
  return code;
}

// ---- CONNECT ----

interface ConnectSizes {
  remaining: number;
  props: number;
  willProps: number;
}
const connectSizes: ConnectSizes = { remaining: 0, props: 0, willProps: 0 };

function connectRemaining(f: Connect5Fields): number {
  if (!(Number.isInteger(f.keepalive) && f.keepalive >= 0 && f.keepalive <= 65535)) throw bad(`keepalive must be 0-65535, not ${f.keepalive}`);
  const props = propertiesLength(f.properties, T.CONNECT);
  let n = 10 + block(props) + 2 + E.stringLength(f.clientId, "client id");
  const w = f.will;
  let willProps = 0;
  if (w) {
    E.checkQoS(w.qos, "will");
    willProps = propertiesLength(w.properties, WILL);
    n += block(willProps) + 2 + E.topicNameLength(w.topic, "will") + 2 + E.bytesLength(w.payload, "will payload");
  }
  if (f.username != null) n += 2 + E.stringLength(f.username, "user name");
  // 5.0 allows a password without a user name (§3.1.2.9)
  if (f.password != null) n += 2 + E.bytesLength(f.password, "password");
  connectSizes.props = props;
  connectSizes.willProps = willProps;
  return (connectSizes.remaining = n);
}

export function sizeOfConnect5(f: Connect5Fields): number {
  return E.packetSize(connectRemaining(f));
}

/** Writes a 5.0 CONNECT (§3.1): protocol level 5, its properties, and the will's. */
export function encodeConnect5(buf: Uint8Array, offset: number, f: Connect5Fields): number {
  const remaining = connectRemaining(f);
  const { props, willProps } = connectSizes;
  E.room(buf, offset, E.packetSize(remaining));
  let o = E.header(buf, offset, FIRST_BYTE[T.CONNECT], remaining);
  o = E.u16(buf, o, 4);
  buf[o++] = 0x4d; // M
  buf[o++] = 0x51; // Q
  buf[o++] = 0x54; // T
  buf[o++] = 0x54; // T
  buf[o++] = 5;
  const w = f.will;
  let flags = f.clean ? 0x02 : 0;
  if (w) flags |= 0x04 | (w.qos << 3) | (w.retain ? 0x20 : 0);
  if (f.password != null) flags |= 0x40;
  if (f.username != null) flags |= 0x80;
  buf[o++] = flags;
  o = E.u16(buf, o, f.keepalive);
  o = writeProperties(buf, o, f.properties, props);
  o = E.str(buf, o, f.clientId);
  if (w) {
    o = writeProperties(buf, o, w.properties, willProps);
    o = E.str(buf, o, w.topic);
    o = E.bin(buf, o, w.payload, true);
  }
  if (f.username != null) o = E.str(buf, o, f.username);
  if (f.password != null) o = E.bin(buf, o, f.password, true);
  return o - offset;
}

// ---- CONNACK ----

export function sizeOfConnack5(f: Connack5Fields): number {
  checkReason(T.CONNACK, f.reasonCode);
  if (f.sessionPresent && f.reasonCode !== 0) throw bad("CONNACK with a failure reason code has Session Present 0 (§3.2.2.1.1)");
  return E.packetSize(2 + block(propertiesLength(f.properties, T.CONNACK)));
}

/** Writes a 5.0 CONNACK (§3.2); Session Present must be 0 with a failure reason code. */
export function encodeConnack5(buf: Uint8Array, offset: number, f: Connack5Fields): number {
  checkReason(T.CONNACK, f.reasonCode);
  if (f.sessionPresent && f.reasonCode !== 0) throw bad("CONNACK with a failure reason code has Session Present 0 (§3.2.2.1.1)");
  const props = propertiesLength(f.properties, T.CONNACK);
  const remaining = 2 + block(props);
  E.room(buf, offset, E.packetSize(remaining));
  let o = E.header(buf, offset, FIRST_BYTE[T.CONNACK], remaining);
  buf[o++] = f.sessionPresent ? 1 : 0;
  buf[o++] = f.reasonCode;
  return writeProperties(buf, o, f.properties, props) - offset;
}

// ---- PUBLISH ----

const publishSizes = { remaining: 0, total: 0, props: 0, topic: 0 };

/** Checks and measures `f` into publishSizes; returns the whole size. */
function publishRemaining(f: Publish5Fields): number {
  E.checkQoS(f.qos, "PUBLISH");
  if (f.qos > 0) E.checkId(f.packetId);
  else if (f.dup) throw bad("DUP must be 0 on a QoS 0 PUBLISH (§3.3.1.1)");
  const props = propertiesLength(f.properties, T.PUBLISH);
  const t = f.topicBytes;
  const alias = f.properties?.topicAlias != null;
  // a Topic Alias lets the topic be empty (§3.3.2.3.4)
  const topic = t ? t.length : alias && f.topic === "" ? 0 : E.topicNameLength(f.topic, "PUBLISH");
  const p = f.payload;
  const payload = typeof p === "string" ? E.stringLengthAny(p) : p.length;
  publishSizes.props = props;
  publishSizes.topic = topic;
  // the property block goes between the packet id and the payload: measured as part of the latter
  E.measurePublish(publishSizes, topic, f.qos, block(props) + payload);
  return E.packetSize(publishSizes.remaining);
}

export function sizeOfPublish5(f: Publish5Fields): number {
  return publishRemaining(f);
}

/** Writes a 5.0 PUBLISH (§3.3). */
export function encodePublish5(buf: Uint8Array, offset: number, f: Publish5Fields): number {
  E.room(buf, offset, publishRemaining(f));
  const { props, topic, remaining } = publishSizes;
  let o = E.header(buf, offset, FIRST_BYTE[T.PUBLISH] | (f.dup ? PUBLISH_DUP : 0) | (f.qos << 1) | (f.retain ? PUBLISH_RETAIN : 0), remaining);
  const t = f.topicBytes;
  if (t) {
    o = E.u16(buf, o, t.length);
    buf.set(t, o);
    o += t.length;
  } else if (topic === 0) o = E.u16(buf, o, 0);
  else o = E.str(buf, o, f.topic);
  if (f.qos > 0) o = E.u16(buf, o, f.packetId);
  o = writeProperties(buf, o, f.properties, props);
  const p = f.payload;
  if (typeof p === "string") o = writeUtf8(buf, o, p);
  else {
    buf.set(p, o);
    o += p.length;
  }
  return o - offset;
}

// ---- PUBACK, PUBREC, PUBREL, PUBCOMP, DISCONNECT, AUTH: a reason code and properties, both optional ----

/**
 * The remaining length of a packet whose body is `head` bytes (the packet id, or none), a
 * reason code and properties of `props` bytes, in its short form: the reason code left out
 * when it is 0 and there are no properties, the Property Length when there are none.
 */
function reasonTail(head: number, code: number, props: number): number {
  return props > 0 ? head + 1 + block(props) : code !== 0 ? head + 1 : head;
}

function writeReasonTail(buf: Uint8Array, o: number, code: number, p: PropertiesFields | null | undefined, props: number): number {
  if (props === 0 && code === 0) return o;
  buf[o++] = code;
  return props > 0 ? writeProperties(buf, o, p, props) : o;
}

function ackType(type: number): void {
  if (type !== T.PUBACK && type !== T.PUBREC && type !== T.PUBREL && type !== T.PUBCOMP) throw bad(`not an acknowledgement type: ${type}`);
}

export function sizeOfAck5(type: number, f: Ack5Fields): number {
  ackType(type);
  E.checkId(f.packetId);
  return E.packetSize(reasonTail(2, checkReason(type, f.reasonCode ?? 0), propertiesLength(f.properties, type)));
}

/** Writes a 5.0 PUBACK, PUBREC, PUBREL or PUBCOMP (`type`; §3.4-§3.7). */
export function encodeAck5(buf: Uint8Array, offset: number, type: number, f: Ack5Fields): number {
  ackType(type);
  E.checkId(f.packetId);
  const code = checkReason(type, f.reasonCode ?? 0);
  const props = propertiesLength(f.properties, type);
  const remaining = reasonTail(2, code, props);
  E.room(buf, offset, E.packetSize(remaining));
  let o = E.header(buf, offset, FIRST_BYTE[type], remaining);
  o = E.u16(buf, o, f.packetId);
  return writeReasonTail(buf, o, code, f.properties, props) - offset;
}

function reasonType(type: number): void {
  if (type !== T.DISCONNECT && type !== T.AUTH) throw bad(`not DISCONNECT or AUTH: ${type}`);
}

/** The remaining length of a DISCONNECT or AUTH; an AUTH that says anything names its method (§3.15.2.2.2). */
function reasonRemaining(type: number, f: Reason5Fields, code: number, props: number): number {
  if (type === T.AUTH && (code !== 0 || props > 0) && f.properties?.authenticationMethod == null)
    throw bad("AUTH without an Authentication Method (§3.15.2.2.2)");
  return reasonTail(0, code, props);
}

export function sizeOfReason5(type: number, f: Reason5Fields): number {
  reasonType(type);
  const code = checkReason(type, f.reasonCode ?? 0);
  return E.packetSize(reasonRemaining(type, f, code, propertiesLength(f.properties, type)));
}

/** Writes a 5.0 DISCONNECT or AUTH (`type`; §3.14, §3.15). */
export function encodeReason5(buf: Uint8Array, offset: number, type: number, f: Reason5Fields): number {
  reasonType(type);
  const code = checkReason(type, f.reasonCode ?? 0);
  const props = propertiesLength(f.properties, type);
  const remaining = reasonRemaining(type, f, code, props);
  E.room(buf, offset, E.packetSize(remaining));
  const o = E.header(buf, offset, FIRST_BYTE[type], remaining);
  return writeReasonTail(buf, o, code, f.properties, props) - offset;
}

// ---- SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK: packet id, properties, a list ----

/** The SUBSCRIBE options byte (§3.8.3.1). */
function options(s: Subscription5): number {
  E.checkQoS(s.qos, "SUBSCRIBE");
  const rh = s.rh ?? 0;
  if (rh !== 0 && rh !== 1 && rh !== 2) throw bad(`Retain Handling must be 0, 1 or 2, not ${rh}`);
  if (s.nl && s.topic.startsWith("$share/")) throw bad("No Local on a shared subscription is a Protocol Error (§3.8.3.1)");
  return s.qos | (s.nl ? 4 : 0) | (s.rap ? 8 : 0) | (rh << 4);
}

function listEntries(type: number, f: Subscribe5Fields | ReasonList5Fields | Unsubscribe5Fields): number {
  E.checkId(f.packetId);
  let n = 0;
  if (type === T.SUBSCRIBE) {
    const subs = (f as Subscribe5Fields).subscriptions;
    for (let i = 0; i < subs.length; i++) {
      options(subs[i]);
      n += 3 + E.filterLength(subs[i].topic);
    }
  } else if (type === T.UNSUBSCRIBE) {
    const t = (f as Unsubscribe5Fields).topics;
    for (let i = 0; i < t.length; i++) n += 2 + E.filterLength(t[i]);
  } else {
    const g = (f as ReasonList5Fields).granted;
    for (let i = 0; i < g.length; i++) checkReason(type, g[i]);
    n = g.length;
  }
  if (n === 0) throw bad(`${PacketName[type].toUpperCase()} needs at least one entry`);
  return n;
}

function listType(type: number): void {
  if (type !== T.SUBSCRIBE && type !== T.SUBACK && type !== T.UNSUBSCRIBE && type !== T.UNSUBACK) throw bad(`not a list packet type: ${type}`);
}

export function sizeOfList5(type: number, f: Subscribe5Fields | ReasonList5Fields | Unsubscribe5Fields): number {
  listType(type);
  return E.packetSize(2 + block(propertiesLength(f.properties, type)) + listEntries(type, f));
}

/** Writes a 5.0 SUBSCRIBE, SUBACK, UNSUBSCRIBE or UNSUBACK (`type`; §3.8-§3.11). Filters are not validated here. */
export function encodeList5(buf: Uint8Array, offset: number, type: number, f: Subscribe5Fields | ReasonList5Fields | Unsubscribe5Fields): number {
  listType(type);
  const props = propertiesLength(f.properties, type);
  const remaining = 2 + block(props) + listEntries(type, f);
  E.room(buf, offset, E.packetSize(remaining));
  let o = E.header(buf, offset, FIRST_BYTE[type], remaining);
  o = E.u16(buf, o, f.packetId);
  o = writeProperties(buf, o, f.properties, props);
  if (type === T.SUBSCRIBE) {
    for (const s of (f as Subscribe5Fields).subscriptions) {
      o = E.str(buf, o, s.topic);
      buf[o++] = options(s);
    }
  } else if (type === T.UNSUBSCRIBE) for (const t of (f as Unsubscribe5Fields).topics) o = E.str(buf, o, t);
  else for (const g of (f as ReasonList5Fields).granted) buf[o++] = g;
  return o - offset;
}

// ---- by name, for each type ----

export const sizeOfPuback5 = (f: Ack5Fields): number => sizeOfAck5(T.PUBACK, f);
export const encodePuback5 = (buf: Uint8Array, offset: number, f: Ack5Fields): number => encodeAck5(buf, offset, T.PUBACK, f);
export const sizeOfPubrec5 = (f: Ack5Fields): number => sizeOfAck5(T.PUBREC, f);
export const encodePubrec5 = (buf: Uint8Array, offset: number, f: Ack5Fields): number => encodeAck5(buf, offset, T.PUBREC, f);
export const sizeOfPubrel5 = (f: Ack5Fields): number => sizeOfAck5(T.PUBREL, f);
export const encodePubrel5 = (buf: Uint8Array, offset: number, f: Ack5Fields): number => encodeAck5(buf, offset, T.PUBREL, f);
export const sizeOfPubcomp5 = (f: Ack5Fields): number => sizeOfAck5(T.PUBCOMP, f);
export const encodePubcomp5 = (buf: Uint8Array, offset: number, f: Ack5Fields): number => encodeAck5(buf, offset, T.PUBCOMP, f);
export const sizeOfSubscribe5 = (f: Subscribe5Fields): number => sizeOfList5(T.SUBSCRIBE, f);
export const encodeSubscribe5 = (buf: Uint8Array, offset: number, f: Subscribe5Fields): number => encodeList5(buf, offset, T.SUBSCRIBE, f);
export const sizeOfSuback5 = (f: ReasonList5Fields): number => sizeOfList5(T.SUBACK, f);
export const encodeSuback5 = (buf: Uint8Array, offset: number, f: ReasonList5Fields): number => encodeList5(buf, offset, T.SUBACK, f);
export const sizeOfUnsubscribe5 = (f: Unsubscribe5Fields): number => sizeOfList5(T.UNSUBSCRIBE, f);
export const encodeUnsubscribe5 = (buf: Uint8Array, offset: number, f: Unsubscribe5Fields): number => encodeList5(buf, offset, T.UNSUBSCRIBE, f);
export const sizeOfUnsuback5 = (f: ReasonList5Fields): number => sizeOfList5(T.UNSUBACK, f);
export const encodeUnsuback5 = (buf: Uint8Array, offset: number, f: ReasonList5Fields): number => encodeList5(buf, offset, T.UNSUBACK, f);
export const sizeOfDisconnect5 = (f: Reason5Fields): number => sizeOfReason5(T.DISCONNECT, f);
export const encodeDisconnect5 = (buf: Uint8Array, offset: number, f: Reason5Fields): number => encodeReason5(buf, offset, T.DISCONNECT, f);
export const sizeOfAuth5 = (f: Reason5Fields): number => sizeOfReason5(T.AUTH, f);
export const encodeAuth5 = (buf: Uint8Array, offset: number, f: Reason5Fields): number => encodeReason5(buf, offset, T.AUTH, f);
