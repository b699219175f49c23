/**
 * Plain-object views of packets, named as MQTT.js's `mqtt-packet` names them, with binary
 * fields (payload, password, will payload) as lowercase hex. For tools, tests and logs:
 * everything here allocates, none of it is on a hot path.
 */
import { ErrorCode, MqttError } from "../src/mqtt/errors.js";
import * as E from "../src/mqtt/encode.js";
import * as E5 from "../src/mqtt/encode5.js";
import { type ConnectPacket, Packet, PacketName, PacketType as T } from "../src/mqtt/packet.js";
import { Properties, PROPERTIES, PropertyCursor, PropType } from "../src/mqtt/properties.js";
import { decodeUtf8 } from "../src/mqtt/utf8.js";

/**
 * MQTT 5.0 properties as mqtt-packet shows them: its names; the 0/1 properties as booleans
 * (Maximum QoS as a number); binary ones (correlationData, authenticationData) as hex;
 * `userProperties` as names to a value, or to the values in order when a name repeats;
 * `subscriptionIdentifier` a number, or an array when a PUBLISH carries several.
 */
export type PropertiesObject = Record<string, unknown>;

/** A packet as `mqtt-packet` would show it. */
export interface PacketObject {
  cmd: string;
  messageId?: number;
  qos?: number;
  dup?: boolean;
  retain?: boolean;
  length?: number;
  topic?: string;
  payload?: string;
  protocolId?: string;
  protocolVersion?: number;
  clean?: boolean;
  keepalive?: number;
  clientId?: string;
  will?: { topic: string; payload: string; qos: number; retain: boolean; properties?: PropertiesObject };
  username?: string;
  password?: string;
  /** nl, rap and rh (5.0's subscription options) only in 5.0. */
  subscriptions?: { topic: string; qos: number; nl?: boolean; rap?: boolean; rh?: number }[];
  granted?: number[];
  returnCode?: number;
  sessionPresent?: boolean;
  unsubscriptions?: string[];
  /** 5.0: the reason code of CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, DISCONNECT, AUTH. */
  reasonCode?: number;
  /** 5.0: present when the packet carries any. */
  properties?: PropertiesObject;
}

/** The object form of a decoded property block; undefined when it is empty (as mqtt-packet leaves it out). */
export function propertiesToObject(props: Properties | null): PropertiesObject | undefined {
  if (props === null || props.present === 0) return undefined;
  const o: PropertiesObject = {};
  const d = props.data;
  for (const [id, name, type] of PROPERTIES) {
    if (!props.has(id)) continue;
    switch (type) {
      case PropType.Byte:
        o[name] = id === 0x24 ? props.number(id) : props.number(id) !== 0;
        break;
      case PropType.Utf8:
        o[name] = props.text(id);
        break;
      case PropType.Binary:
        o[name] = toHex(d, props.valueStart(id), props.valueStart(id) + props.valueLength(id));
        break;
      case PropType.Varint: {
        const ids: number[] = [];
        const c = new PropertyCursor().reset(props);
        while (c.nextSubscriptionIdentifier()) ids.push(c.value);
        o[name] = ids.length === 1 ? ids[0] : ids;
        break;
      }
      case PropType.Pair: {
        const u: Record<string, string | string[]> = {};
        const c = new PropertyCursor().reset(props);
        while (c.nextUser()) {
          const k = decodeUtf8(d, c.keyStart, c.keyStart + c.keyLength);
          const v = decodeUtf8(d, c.valueStart, c.valueStart + c.valueLength);
          const had = u[k];
          u[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
        }
        o[name] = u;
        break;
      }
      default:
        o[name] = props.number(id);
    }
  }
  return o;
}

/** The encoder's form of an object's properties: hex binary values to bytes. */
function propertiesFromObject(o: PropertiesObject | undefined): E5.PropertiesFields | null {
  if (o == null) return null;
  const f: Record<string, unknown> = { ...o };
  for (const k of ["correlationData", "authenticationData"]) if (typeof f[k] === "string") f[k] = fromHex(f[k] as string);
  return f as E5.PropertiesFields;
}

const HEX = "0123456789abcdef";

/** Lowercase hex of `data[start, end)`. Built in pieces: repeated `+=` is quadratic in XS. */
export function toHex(data: Uint8Array, start = 0, end = data.length): string {
  const pieces: string[] = [];
  let s = "";
  for (let i = start; i < end; i++) {
    s += HEX[data[i] >> 4] + HEX[data[i] & 15];
    if (s.length >= 1024) {
      pieces.push(s);
      s = "";
    }
  }
  pieces.push(s);
  return pieces.join("");
}

function nibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Bytes of a hex string (spaces, tabs, newlines and colons ignored); throws `InvalidArgument` on anything else. */
export function fromHex(hex: string): Uint8Array {
  let digits = 0;
  for (let i = 0; i < hex.length; i++) if (nibble(hex.charCodeAt(i)) >= 0) digits++;
  if (digits % 2 !== 0) throw new MqttError(ErrorCode.InvalidArgument, `hex has an odd number of digits (${digits})`);
  const out = new Uint8Array(digits / 2);
  let n = 0;
  for (let i = 0; i < hex.length; i++) {
    const c = hex.charCodeAt(i);
    const v = nibble(c);
    if (v < 0) {
      if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a || c === 0x3a) continue;
      throw new MqttError(ErrorCode.InvalidArgument, `not a hex digit at position ${i}: "${hex[i]}"`);
    }
    if (n & 1) out[n >> 1] |= v;
    else out[n >> 1] = v << 4;
    n++;
  }
  return out;
}

/**
 * The object form of a decoded packet. For a fragmented PUBLISH this shows one fragment's
 * payload; join fragments with {@link PayloadAssembler} first.
 */
export function packetToObject(packet: Packet, version = 4): PacketObject {
  const p = packet as ConnectPacket; // CONNECT's fields are read only when it is one
  return (p.type === T.CONNECT ? p.protocolLevel === 5 : version === 5) ? packetToObject5(p) : packetToObject4(p);
}

/** The fields 3.1.1 and 5.0 share; all of a 3.1.1 packet. */
function packetToObject4(p: ConnectPacket): PacketObject {
  const d = p.data;
  const cmd = PacketName[p.type];
  switch (p.type) {
    case T.CONNECT: {
      const o: PacketObject = {
        cmd,
        protocolId: "MQTT",
        protocolVersion: p.protocolLevel,
        clean: (p.connectFlags & 2) !== 0,
        keepalive: p.keepalive,
        clientId: decodeUtf8(d, p.clientIdStart, p.clientIdStart + p.clientIdLength),
      };
      if (p.willTopicLength >= 0)
        o.will = {
          topic: decodeUtf8(d, p.willTopicStart, p.willTopicStart + p.willTopicLength),
          payload: toHex(d, p.willPayloadStart, p.willPayloadStart + p.willPayloadLength),
          qos: (p.connectFlags >> 3) & 3,
          retain: (p.connectFlags & 0x20) !== 0,
        };
      if (p.usernameLength >= 0) o.username = decodeUtf8(d, p.usernameStart, p.usernameStart + p.usernameLength);
      if (p.passwordLength >= 0) o.password = toHex(d, p.passwordStart, p.passwordStart + p.passwordLength);
      return o;
    }
    case T.CONNACK:
      return { cmd, sessionPresent: p.sessionPresent, returnCode: p.returnCode };
    case T.PUBLISH: {
      const o: PacketObject = {
        cmd,
        retain: p.retain,
        qos: p.qos,
        dup: p.dup,
        length: p.remainingLength,
        topic: decodeUtf8(d, p.topicStart, p.topicStart + p.topicLength),
        payload: toHex(d, p.payloadStart, p.payloadEnd),
      };
      if (p.qos > 0) o.messageId = p.packetId;
      return o;
    }
    case T.SUBSCRIBE: {
      const subscriptions: { topic: string; qos: number }[] = [];
      for (let k = p.payloadStart; k < p.payloadEnd; ) {
        const n = (d[k] << 8) | d[k + 1];
        subscriptions.push({ topic: decodeUtf8(d, k + 2, k + 2 + n), qos: d[k + 2 + n] });
        k += 3 + n;
      }
      return { cmd, messageId: p.packetId, subscriptions };
    }
    case T.SUBACK: {
      const granted: number[] = [];
      for (let k = p.payloadStart; k < p.payloadEnd; k++) granted.push(d[k]);
      return { cmd, messageId: p.packetId, granted };
    }
    case T.UNSUBSCRIBE: {
      const unsubscriptions: string[] = [];
      for (let k = p.payloadStart; k < p.payloadEnd; ) {
        const n = (d[k] << 8) | d[k + 1];
        unsubscriptions.push(decodeUtf8(d, k + 2, k + 2 + n));
        k += 2 + n;
      }
      return { cmd, messageId: p.packetId, unsubscriptions };
    }
    case T.PUBACK:
    case T.PUBREC:
    case T.PUBREL:
    case T.PUBCOMP:
    case T.UNSUBACK:
      return { cmd, messageId: p.packetId };
    default:
      return { cmd };
  }
}

/** {@link packetToObject} for a packet decoded as MQTT 5.0. */
function packetToObject5(p: ConnectPacket): PacketObject {
  const d = p.data;
  const cmd = PacketName[p.type];
  let o: PacketObject;
  switch (p.type) {
    case T.CONNECT: {
      o = packetToObject4(p);
      if (o.will) {
        const wp = propertiesToObject(p.willProperties);
        if (wp) o.will.properties = wp;
      }
      break;
    }
    case T.CONNACK:
      // no Property Length: a 3.1.1 broker's refusal of a 5.0 CONNECT, in 3.1.1's words
      o = p.remainingLength === 2 ? { cmd, sessionPresent: false, returnCode: p.reasonCode } : { cmd, sessionPresent: p.sessionPresent, reasonCode: p.reasonCode };
      break;
    case T.PUBLISH:
      o = packetToObject4(p);
      break;
    case T.PUBACK:
    case T.PUBREC:
    case T.PUBREL:
    case T.PUBCOMP:
      o = { cmd, messageId: p.packetId, reasonCode: p.reasonCode };
      break;
    case T.SUBSCRIBE: {
      const subscriptions: NonNullable<PacketObject["subscriptions"]> = [];
      for (let k = p.payloadStart; k < p.payloadEnd; ) {
        const n = (d[k] << 8) | d[k + 1];
        const q = d[k + 2 + n];
        subscriptions.push({ topic: decodeUtf8(d, k + 2, k + 2 + n), qos: q & 3, nl: (q & 4) !== 0, rap: (q & 8) !== 0, rh: (q >> 4) & 3 });
        k += 3 + n;
      }
      o = { cmd, messageId: p.packetId, subscriptions };
      break;
    }
    case T.SUBACK:
    case T.UNSUBACK: {
      const granted: number[] = [];
      for (let k = p.payloadStart; k < p.payloadEnd; k++) granted.push(d[k]);
      o = { cmd, messageId: p.packetId, granted };
      break;
    }
    case T.UNSUBSCRIBE:
      o = packetToObject4(p);
      break;
    case T.DISCONNECT:
    case T.AUTH:
      o = { cmd, reasonCode: p.reasonCode };
      break;
    default:
      return { cmd };
  }
  const props = propertiesToObject(p.properties);
  if (props) o.properties = props;
  return o;
}

/**
 * Joins the fragments of an oversize PUBLISH into one payload (tools and tests only; the
 * client hands fragments straight to the application). Returns the whole object when the
 * last fragment arrives, otherwise null.
 */
export class PayloadAssembler {
  private parts = "";
  /** `version`: the protocol version the packet was decoded as (the decoder's `version`). */
  add(p: Packet, version = 4): PacketObject | null {
    if (p.type !== T.PUBLISH) return packetToObject(p, version);
    this.parts += toHex(p.data, p.payloadStart, p.payloadEnd);
    if (p.more) return null;
    const o = packetToObject(p, version);
    o.payload = this.parts;
    this.parts = "";
    return o;
  }
}

const TYPES: Record<string, number> = {};
for (let i = 1; i < 16; i++) TYPES[PacketName[i]] = i;

function need<V>(o: PacketObject, key: keyof PacketObject, v: V | undefined): V {
  if (v === undefined || v === null) throw new MqttError(ErrorCode.InvalidArgument, `${o.cmd} needs "${key}"`);
  return v;
}

function binary(hex: string | undefined): Uint8Array {
  return hex == null ? new Uint8Array(0) : fromHex(hex);
}

function typeOf(o: PacketObject): number {
  const type = TYPES[o.cmd];
  if (type === undefined) throw new MqttError(ErrorCode.InvalidArgument, `unknown cmd "${o.cmd}"`);
  return type;
}

/** The version an object is written in (a CONNECT's own `protocolVersion` decides); refuses 5.0 fields under 3.1.1. */
function versionOf(o: PacketObject, type: number, version: number): number {
  if (type === T.CONNECT && o.protocolVersion !== undefined) version = o.protocolVersion;
  if (version === 5) return 5;
  if (version !== 4) throw new MqttError(ErrorCode.InvalidArgument, `protocolVersion ${version} is not supported (MQTT 3.1.1 is 4, 5.0 is 5)`);
  if (o.properties !== undefined || o.reasonCode !== undefined || type === T.AUTH)
    throw new MqttError(ErrorCode.InvalidArgument, `${o.cmd} with properties, a reason code or AUTH needs MQTT 5 (protocolVersion 5)`);
  return 4;
}

/**
 * Writes the packet an object describes, as MQTT `version` (4 or 5; a CONNECT's own
 * `protocolVersion` decides for it); returns the byte count. Throws {@link MqttError} for
 * missing or invalid fields.
 */
export function encodeObject(buf: Uint8Array, offset: number, o: PacketObject, version = 4): number {
  const type = typeOf(o);
  if (versionOf(o, type, version) === 5) return encodeObject5(buf, offset, o, type);
  const id = { packetId: o.messageId ?? 0 };
  switch (type) {
    case T.CONNECT:
      return E.encodeConnect(buf, offset, {
        clientId: o.clientId ?? "",
        clean: o.clean ?? true,
        keepalive: o.keepalive ?? 0,
        will: o.will ? { topic: o.will.topic, payload: binary(o.will.payload), qos: o.will.qos ?? 0, retain: !!o.will.retain } : null,
        username: o.username ?? null,
        password: o.password == null ? null : binary(o.password),
      });
    case T.CONNACK:
      return E.encodeConnack(buf, offset, { sessionPresent: !!o.sessionPresent, returnCode: o.returnCode ?? 0 });
    case T.PUBLISH:
      return E.encodePublish(buf, offset, {
        topic: need(o, "topic", o.topic),
        payload: binary(o.payload),
        qos: o.qos ?? 0,
        retain: !!o.retain,
        dup: !!o.dup,
        packetId: o.messageId ?? 0,
      });
    case T.PUBACK:
      return E.encodePuback(buf, offset, id);
    case T.PUBREC:
      return E.encodePubrec(buf, offset, id);
    case T.PUBREL:
      return E.encodePubrel(buf, offset, id);
    case T.PUBCOMP:
      return E.encodePubcomp(buf, offset, id);
    case T.UNSUBACK:
      return E.encodeUnsuback(buf, offset, id);
    case T.SUBSCRIBE:
      return E.encodeSubscribe(buf, offset, { packetId: id.packetId, subscriptions: need(o, "subscriptions", o.subscriptions) });
    case T.SUBACK:
      return E.encodeSuback(buf, offset, { packetId: id.packetId, granted: need(o, "granted", o.granted) });
    case T.UNSUBSCRIBE:
      return E.encodeUnsubscribe(buf, offset, { packetId: id.packetId, topics: need(o, "unsubscriptions", o.unsubscriptions) });
    case T.PINGREQ:
      return E.encodePingreq(buf, offset);
    case T.PINGRESP:
      return E.encodePingresp(buf, offset);
    default:
      return E.encodeDisconnect(buf, offset);
  }
}

function will5(o: PacketObject): E5.Will5Fields | null {
  const w = o.will;
  return w ? { topic: w.topic, payload: binary(w.payload), qos: w.qos ?? 0, retain: !!w.retain, properties: propertiesFromObject(w.properties) } : null;
}

/** A 5.0 CONNECT object's fields, for the encoder and its sizeOf. */
function connect5(o: PacketObject, properties: E5.PropertiesFields | null | undefined): E5.Connect5Fields {
  return {
    clientId: o.clientId ?? "",
    clean: o.clean ?? true,
    keepalive: o.keepalive ?? 0,
    will: will5(o),
    username: o.username ?? null,
    password: o.password == null ? null : binary(o.password),
    properties,
  };
}

/** {@link encodeObject} for MQTT 5.0. */
function encodeObject5(buf: Uint8Array, offset: number, o: PacketObject, type: number): number {
  const properties = propertiesFromObject(o.properties);
  const packetId = o.messageId ?? 0;
  switch (type) {
    case T.CONNECT:
      return E5.encodeConnect5(buf, offset, connect5(o, properties));
    case T.CONNACK:
      return E5.encodeConnack5(buf, offset, { sessionPresent: !!o.sessionPresent, reasonCode: o.reasonCode ?? o.returnCode ?? 0, properties });
    case T.PUBLISH:
      return E5.encodePublish5(buf, offset, {
        topic: need(o, "topic", o.topic),
        payload: binary(o.payload),
        qos: o.qos ?? 0,
        retain: !!o.retain,
        dup: !!o.dup,
        packetId,
        properties,
      });
    case T.PUBACK:
    case T.PUBREC:
    case T.PUBREL:
    case T.PUBCOMP:
      return E5.encodeAck5(buf, offset, type, { packetId, reasonCode: o.reasonCode ?? 0, properties });
    case T.SUBSCRIBE:
      return E5.encodeList5(buf, offset, type, { packetId, subscriptions: need(o, "subscriptions", o.subscriptions), properties });
    case T.SUBACK:
    case T.UNSUBACK:
      return E5.encodeList5(buf, offset, type, { packetId, granted: need(o, "granted", o.granted), properties });
    case T.UNSUBSCRIBE:
      return E5.encodeList5(buf, offset, type, { packetId, topics: need(o, "unsubscriptions", o.unsubscriptions), properties });
    case T.PINGREQ:
      return E.encodePingreq(buf, offset);
    case T.PINGRESP:
      return E.encodePingresp(buf, offset);
    default:
      return E5.encodeReason5(buf, offset, type, { reasonCode: o.reasonCode ?? 0, properties });
  }
}

/** The size {@link encodeObject} would write, from the sizeOfX functions. */
export function sizeOfObject(o: PacketObject, version = 4): number {
  const type = typeOf(o);
  if (versionOf(o, type, version) !== 5) return sizeOfObject4(o, type);
  const properties = propertiesFromObject(o.properties);
  const packetId = o.messageId ?? 0;
  switch (type) {
    case T.CONNECT:
      return E5.sizeOfConnect5(connect5(o, properties));
    case T.CONNACK:
      return E5.sizeOfConnack5({ sessionPresent: !!o.sessionPresent, reasonCode: o.reasonCode ?? o.returnCode ?? 0, properties });
    case T.PUBLISH:
      return E5.sizeOfPublish5({ topic: o.topic ?? "", payload: binary(o.payload), qos: o.qos ?? 0, retain: !!o.retain, dup: !!o.dup, packetId, properties });
    case T.PUBACK:
    case T.PUBREC:
    case T.PUBREL:
    case T.PUBCOMP:
      return E5.sizeOfAck5(type, { packetId, reasonCode: o.reasonCode ?? 0, properties });
    case T.SUBSCRIBE:
      return E5.sizeOfList5(type, { packetId, subscriptions: o.subscriptions ?? [], properties });
    case T.SUBACK:
    case T.UNSUBACK:
      return E5.sizeOfList5(type, { packetId, granted: o.granted ?? [], properties });
    case T.UNSUBSCRIBE:
      return E5.sizeOfList5(type, { packetId, topics: o.unsubscriptions ?? [], properties });
    case T.PINGREQ:
    case T.PINGRESP:
      return 2;
    default:
      return E5.sizeOfReason5(type, { reasonCode: o.reasonCode ?? 0, properties });
  }
}

function sizeOfObject4(o: PacketObject, type: number): number {
  switch (type) {
    case T.CONNECT:
      return E.sizeOfConnect({
        clientId: o.clientId ?? "",
        clean: o.clean ?? true,
        keepalive: o.keepalive ?? 0,
        will: o.will ? { topic: o.will.topic, payload: binary(o.will.payload), qos: o.will.qos, retain: o.will.retain } : null,
        username: o.username ?? null,
        password: o.password == null ? null : binary(o.password),
      });
    case T.PUBLISH:
      return E.sizeOfPublish({ topic: o.topic ?? "", payload: binary(o.payload), qos: o.qos ?? 0, retain: !!o.retain, dup: !!o.dup, packetId: o.messageId ?? 0 });
    case T.SUBSCRIBE:
      return E.sizeOfSubscribe({ packetId: o.messageId ?? 0, subscriptions: o.subscriptions ?? [] });
    case T.SUBACK:
      return E.sizeOfSuback({ packetId: o.messageId ?? 0, granted: o.granted ?? [] });
    case T.UNSUBSCRIBE:
      return E.sizeOfUnsubscribe({ packetId: o.messageId ?? 0, topics: o.unsubscriptions ?? [] });
    case T.CONNACK:
    case T.PUBACK:
    case T.PUBREC:
    case T.PUBREL:
    case T.PUBCOMP:
    case T.UNSUBACK:
      return 4;
    default:
      return 2;
  }
}
