/**
 * The codec benchmark's workload, plain ECMAScript so the same compiled file runs on Node
 * and inside XS: a fixed packet mix (QoS 0/1 PUBLISH with 16-256 byte payloads on sensor
 * topics, PUBACK, PINGREQ) encoded into one reused buffer, and the same mix decoded from
 * a pre-encoded stream, one packet per push.
 */
import { Decoder } from "../../src/mqtt/decode.js";
import { encodePingreq, encodePuback, encodePublish, type PublishFields } from "../../src/mqtt/encode.js";
import { encodeAck5, encodeConnack5, encodePublish5, type Ack5Fields, type Connack5Fields, type Publish5Fields } from "../../src/mqtt/encode5.js";
import { PacketType, type Packet } from "../../src/mqtt/packet.js";
import { encodeTopic } from "../../src/mqtt/topic.js";

export const TOPICS = ["sensors/esp32-01/temperature", "sensors/esp32-01/humidity", "sensors/esp32-02/pressure", "sensors/esp32-03/co2"];
export const PAYLOAD_SIZES = [16, 48, 96, 128, 256];

/** One entry of the mix: a PUBLISH (topic, size, qos) or an ack / ping. */
export interface MixEntry {
  cmd: "publish" | "puback" | "pingreq";
  topic?: string;
  size?: number;
  qos?: number;
  id?: number;
  payload?: Uint8Array;
  /** The topic's UTF-8, as the client caches it (PublishFields.topicBytes). */
  topicBytes?: Uint8Array;
}

/** The mix: 8 publishes of assorted topics, sizes and QoS, one PUBACK, one PINGREQ. */
export const MIX: MixEntry[] = [];
for (let i = 0; i < 8; i++) {
  const size = PAYLOAD_SIZES[i % PAYLOAD_SIZES.length];
  const payload = new Uint8Array(size);
  for (let j = 0; j < size; j++) payload[j] = 0x30 + (j % 10);
  const topic = TOPICS[i % TOPICS.length];
  MIX.push({ cmd: "publish", topic, size, qos: i % 2, id: i + 1, payload, topicBytes: encodeTopic(topic) });
}
MIX.push({ cmd: "puback", id: 7 });
MIX.push({ cmd: "pingreq" });

const fields: PublishFields = { topic: "", payload: MIX[0].payload!, qos: 0, retain: false, dup: false, packetId: 0 };
const ackFields = { packetId: 1 };
const out = new Uint8Array(1024);

/** Whether PUBLISH topics are passed as cached UTF-8 (the client's way) or as strings. */
let cachedTopics = true;

/** Encodes mix entry `k` into the shared buffer; returns the byte count. */
export function encodeOne(k: number): number {
  const e = MIX[k];
  if (e.cmd === "publish") {
    fields.topic = e.topic!;
    fields.topicBytes = cachedTopics ? e.topicBytes : null;
    fields.payload = e.payload!;
    fields.qos = e.qos!;
    fields.packetId = e.id!;
    return encodePublish(out, 0, fields);
  }
  if (e.cmd === "puback") {
    ackFields.packetId = e.id!;
    return encodePuback(out, 0, ackFields);
  }
  return encodePingreq(out, 0);
}

/** The whole mix encoded back to back, with each packet's offset. */
export const stream = new Uint8Array(4096);
export const offsets: number[] = [0];
{
  let o = 0;
  for (let k = 0; k < MIX.length; k++) {
    const n = encodeOne(k);
    stream.set(out.subarray(0, n), o);
    o += n;
    offsets.push(o);
  }
}

let delivered = 0;
let checksum = 0;
const decoder = new Decoder(1024, {
  onPacket(p: Packet) {
    delivered++;
    checksum += p.type + p.payloadEnd - p.payloadStart;
  },
});

/** Decodes mix entry `k` from the pre-encoded stream: one whole packet per push. */
export function decodeOne(k: number): void {
  decoder.push(stream, offsets[k], offsets[k + 1]);
}

declare const gc: undefined | (() => void);

/** Runs `n` encodes (cycling through the mix) after a collection; the meter then covers just this work. */
export function encodeMany(n: number): number {
  if (typeof gc === "function") gc();
  let bytes = 0;
  const m = MIX.length;
  for (let i = 0; i < n; i++) bytes += encodeOne(i % m);
  return bytes;
}

/** `encodeMany` with string topics, walked on every encode. */
export function encodeManyStrings(n: number): number {
  cachedTopics = false;
  try {
    return encodeMany(n);
  } finally {
    cachedTopics = true;
  }
}

/** Runs `n` decodes (cycling through the mix) after a collection. */
export function decodeMany(n: number): number {
  if (typeof gc === "function") gc();
  const m = MIX.length;
  const before = delivered;
  for (let i = 0; i < n; i++) decodeOne(i % m);
  return delivered - before + (checksum & 0);
}

// ---- the MQTT 5.0 mix ----

/** One 5.0 entry: a PUBLISH with a Topic Alias and a User Property, a PUBACK with a reason code, or a CONNACK with properties. */
export interface Mix5Entry {
  cmd: "publish" | "puback" | "connack";
  publish?: Publish5Fields;
  ack?: Ack5Fields;
  connack?: Connack5Fields;
}

/** 8 publishes (the 3.1.1 mix's topics, sizes and QoS, each topic under its alias 1-4, with a User Property), a PUBACK 0x10, a CONNACK with properties. */
export const MIX5: Mix5Entry[] = [];
for (let i = 0; i < 8; i++) {
  const e = MIX[i];
  MIX5.push({
    cmd: "publish",
    publish: { topic: e.topic!, topicBytes: e.topicBytes, payload: e.payload!, qos: e.qos!, retain: false, dup: false, packetId: e.id!, properties: { topicAlias: (i % TOPICS.length) + 1, userProperties: { unit: "C" } } },
  });
}
MIX5.push({ cmd: "puback", ack: { packetId: 7, reasonCode: 0x10 } });
MIX5.push({ cmd: "connack", connack: { sessionPresent: false, reasonCode: 0, properties: { assignedClientIdentifier: "auto-7", receiveMaximum: 20, topicAliasMaximum: 10, maximumPacketSize: 65536 } } });

/** Encodes 5.0 mix entry `k` into the shared buffer; returns the byte count. */
export function encodeOne5(k: number): number {
  const e = MIX5[k];
  if (e.cmd === "publish") return encodePublish5(out, 0, e.publish!);
  if (e.cmd === "puback") return encodeAck5(out, 0, PacketType.PUBACK, e.ack!);
  return encodeConnack5(out, 0, e.connack!);
}

/** The 5.0 mix encoded back to back, with each packet's offset. */
export const stream5 = new Uint8Array(4096);
export const offsets5: number[] = [0];
{
  let o = 0;
  for (let k = 0; k < MIX5.length; k++) {
    const n = encodeOne5(k);
    stream5.set(out.subarray(0, n), o);
    o += n;
    offsets5.push(o);
  }
}

const decoder5 = new Decoder(
  1024,
  {
    onPacket(p: Packet) {
      delivered++;
      checksum += p.type + p.payloadEnd - p.payloadStart + (p.properties ? p.properties.topicAlias + p.properties.userPropertyCount : 0);
    },
  },
  { protocolVersion: 5, topicAliasMaximum: 10 },
);

/** Runs `n` 5.0 encodes (cycling through the mix) after a collection. */
export function encodeMany5(n: number): number {
  if (typeof gc === "function") gc();
  let bytes = 0;
  const m = MIX5.length;
  for (let i = 0; i < n; i++) bytes += encodeOne5(i % m);
  return bytes;
}

/** Runs `n` 5.0 decodes (cycling through the mix) after a collection. */
export function decodeMany5(n: number): number {
  if (typeof gc === "function") gc();
  const m = MIX5.length;
  const before = delivered;
  for (let i = 0; i < n; i++) decoder5.push(stream5, offsets5[i % m], offsets5[(i % m) + 1]);
  return delivered - before + (checksum & 0);
}
