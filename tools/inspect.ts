/**
 * Plain-object views of packets, named as MQTT.js's `mqtt-packet` names them, with binary
 * fields (payload, password, will payload) as lowercase hex. For tools, tests and logs:
 * everything here allocates, none of it is on a hot path.
 */
import { ErrorCode, MqttError } from "../src/mqtt/errors.js";
import * as E from "../src/mqtt/encode.js";
import { type ConnectPacket, Packet, PacketName, PacketType as T } from "../src/mqtt/packet.js";
import { decodeUtf8 } from "../src/mqtt/utf8.js";

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
  will?: { topic: string; payload: string; qos: number; retain: boolean };
  username?: string;
  password?: string;
  subscriptions?: { topic: string; qos: number }[];
  granted?: number[];
  returnCode?: number;
  sessionPresent?: boolean;
  unsubscriptions?: string[];
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
export function packetToObject(packet: Packet): PacketObject {
  const p = packet as ConnectPacket; // CONNECT's fields are read only when it is one
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

/**
 * Joins the fragments of an oversize PUBLISH into one payload (tools and tests only; the
 * client hands fragments straight to the application). Returns the whole object when the
 * last fragment arrives, otherwise null.
 */
export class PayloadAssembler {
  private parts = "";
  add(p: Packet): PacketObject | null {
    if (p.type !== T.PUBLISH) return packetToObject(p);
    this.parts += toHex(p.data, p.payloadStart, p.payloadEnd);
    if (p.more) return null;
    const o = packetToObject(p);
    o.payload = this.parts;
    this.parts = "";
    return o;
  }
}

const TYPES: Record<string, number> = {};
for (let i = 1; i < 15; i++) TYPES[PacketName[i]] = i;

function need<V>(o: PacketObject, key: keyof PacketObject, v: V | undefined): V {
  if (v === undefined || v === null) throw new MqttError(ErrorCode.InvalidArgument, `${o.cmd} needs "${key}"`);
  return v;
}

function binary(hex: string | undefined): Uint8Array {
  return hex == null ? new Uint8Array(0) : fromHex(hex);
}

/** Writes the packet an object describes; returns the byte count. Throws {@link MqttError} for missing or invalid fields. */
export function encodeObject(buf: Uint8Array, offset: number, o: PacketObject): number {
  const type = TYPES[o.cmd];
  if (type === undefined) throw new MqttError(ErrorCode.InvalidArgument, `unknown cmd "${o.cmd}"`);
  const id = { packetId: o.messageId ?? 0 };
  switch (type) {
    case T.CONNECT:
      if (o.protocolVersion !== undefined && o.protocolVersion !== 4)
        throw new MqttError(ErrorCode.InvalidArgument, `protocolVersion ${o.protocolVersion} is not supported (MQTT 3.1.1 is 4)`);
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
