/**
 * The end-to-end benchmark's XS workload: one connected {@link MqttClient} over a stub
 * platform, so the meter sees the client's own cost and nothing of a socket. Plain
 * ECMAScript (the same compiled file runs inside xsnap).
 *
 * The stub transport takes every write whole without copying (it only counts bytes and
 * remembers where the last packet lay); inbound packets are pre-encoded once and injected
 * through the client's sink, one packet per `onData` call, as a socket would deliver them.
 * Timers do nothing and the clock stands still, so no keepalive work falls inside a window.
 */
import { MqttClient, type ClientOptions, type PublishOptions } from "../../src/mqtt/client.js";
import type { Message } from "../../src/mqtt/message.js";
import { encodePublish, type PublishFields } from "../../src/mqtt/encode.js";
import { encodePublish5 } from "../../src/mqtt/encode5.js";
import type { Platform, Transport, TransportSink } from "../../src/mqtt/platform.js";
import { FILTER, PAYLOAD as payload, TOPIC } from "./workload.js";

const Q0: PublishOptions = { qos: 0 };
const Q1: PublishOptions = { qos: 1 };
const Q2: PublishOptions = { qos: 2 };

// ---- the stub platform ----

let sink: TransportSink | null = null;
let bytesWritten = 0;
let writes = 0;
/** Where the last write began: the packet id of a QoS 1 PUBLISH is read from there. */
let lastData: Uint8Array = payload;
let lastStart = 0;
let clock = 1000;

const transport: Transport = {
  write(data: Uint8Array, start: number, end: number): number {
    writes++;
    bytesWritten += end - start;
    lastData = data;
    lastStart = start;
    return end - start;
  },
  writePacket(head: Uint8Array, body: Uint8Array): boolean {
    writes++;
    bytesWritten += head.length + body.length;
    return true;
  },
  close() {
    sink = null;
  },
};

const platform: Platform = {
  connect(_broker, s) {
    sink = s;
    return transport;
  },
  timer() {
    return { set() {}, clear() {} };
  },
  now: () => clock,
  random: () => 0.5,
};

// ---- the client ----

let received = 0;
let handled = 0;
let payloadBytes = 0;
let delivered = 0;
let errors = 0;

function onTopic(m: Message): void {
  handled++;
  payloadBytes += m.payloadLength;
}

/**
 * No onDelivered by default: Moddable's modules, the comparison, call nothing per publish.
 * {@link publishCallbackMany} measures publishing with one.
 */
const options: ClientOptions = {
  clientId: "bench-xs",
  brokers: [{ host: "stub", port: 1883 }],
  outboxBytes: 8192,
  inflightWindow: 16,
  onMessage(m: Message) {
    received++;
  },
  onError() {
    errors++;
  },
};
const client = new MqttClient(options, platform);

function onDelivered(): void {
  delivered++;
}

/** Broker → client bytes, built by hand (CONNACK, SUBACK) or with the codec (PUBLISH). */
const CONNACK = new Uint8Array([0x20, 2, 0, 0]);
const SUBACK = new Uint8Array([0x90, 3, 0, 0, 1]);
const PUBACK = new Uint8Array([0x40, 2, 0, 0]);
const PUBREC = new Uint8Array([0x50, 2, 0, 0]);
const PUBCOMP = new Uint8Array([0x70, 2, 0, 0]);

function inject(data: Uint8Array, start = 0, end = data.length): void {
  if (!sink) throw new Error("no transport open");
  sink.onData(data, start, end);
}

client.connect();
if (!sink) throw new Error("the client did not open a transport");
(sink as TransportSink).onConnect();
inject(CONNACK);
if (!client.connected) throw new Error("the client did not accept the CONNACK");
client.subscribe(FILTER, { qos: 1, handler: onTopic });
// the SUBSCRIBE just written carries the packet id the SUBACK must echo
SUBACK[2] = lastData[lastStart + 2];
SUBACK[3] = lastData[lastStart + 3];
inject(SUBACK);

/** `IDS` inbound PUBLISH packets of one QoS back to back, with their offsets. */
const IDS = 64;
function preEncode(qos: number): { stream: Uint8Array; offsets: number[] } {
  const f: PublishFields = { topic: TOPIC, payload, qos, retain: false, dup: false, packetId: 0 };
  const stream = new Uint8Array(IDS * 128);
  const offsets = [0];
  let o = 0;
  for (let k = 0; k < IDS; k++) {
    f.packetId = qos ? k + 1 : 0;
    o += encodePublish(stream, o, f);
    offsets.push(o);
  }
  return { stream, offsets };
}
const in0 = preEncode(0);
const in1 = preEncode(1);

/** QoS 0 packets on 8 topics in turn (all matching FILTER): more than the client's 4-topic inbound cache holds. */
function preEncodeRotating(): { stream: Uint8Array; offsets: number[] } {
  const stream = new Uint8Array(IDS * 128);
  const offsets = [0];
  let o = 0;
  for (let k = 0; k < IDS; k++) {
    const topic = `sensors/esp32-0${k % 8}/temperature`;
    o += encodePublish(stream, o, { topic, payload, qos: 0, retain: false, dup: false, packetId: 0 });
    offsets.push(o);
  }
  return { stream, offsets };
}
const inRotating = preEncodeRotating();

declare const gc: undefined | (() => void);

// ---- the measured operations: each runs n operations after a collection ----

/** `n` QoS 0 publishes of the 48-byte payload, `publish(topic, payload)`; each is written through at once. */
export function publishMany(n: number): number {
  if (typeof gc === "function") gc();
  for (let i = 0; i < n; i++) client.publish(TOPIC, payload);
  return n;
}

/** Two payload lengths in turn (48 and 40 bytes), as JSON readings vary: the header is redone every time. */
const shorter = payload.subarray(0, 40);
export function publishVaryingMany(n: number): number {
  if (typeof gc === "function") gc();
  for (let i = 0; i < n; i++) client.publish(TOPIC, i & 1 ? shorter : payload);
  return n;
}

/** As {@link publishMany}, with an options object: `publish(topic, payload, { qos: 0 })`. */
export function publishOptionsMany(n: number): number {
  if (typeof gc === "function") gc();
  for (let i = 0; i < n; i++) client.publish(TOPIC, payload, Q0);
  return n;
}

/** As {@link publishMany}, with an onDelivered callback that counts. */
export function publishCallbackMany(n: number): number {
  options.onDelivered = onDelivered;
  try {
    return publishMany(n);
  } finally {
    options.onDelivered = undefined;
  }
}

/** `n` QoS 1 publishes, each followed by its PUBACK from the "broker". */
export function publishQos1Many(n: number): number {
  if (typeof gc === "function") gc();
  for (let i = 0; i < n; i++) {
    client.publish(TOPIC, payload, Q1);
    // the PUBLISH just written: header, 1-byte length, topic length, topic, packet id
    const at = lastStart + 4 + ((lastData[lastStart + 2] << 8) | lastData[lastStart + 3]);
    PUBACK[2] = lastData[at];
    PUBACK[3] = lastData[at + 1];
    inject(PUBACK);
  }
  return n;
}

/** `n` QoS 2 publishes, each followed by its PUBREC (the client writes PUBREL) and its PUBCOMP from the "broker". */
export function publishQos2Many(n: number): number {
  if (typeof gc === "function") gc();
  for (let i = 0; i < n; i++) {
    client.publish(TOPIC, payload, Q2);
    const at = lastStart + 4 + ((lastData[lastStart + 2] << 8) | lastData[lastStart + 3]);
    PUBREC[2] = PUBCOMP[2] = lastData[at];
    PUBREC[3] = PUBCOMP[3] = lastData[at + 1];
    inject(PUBREC);
    inject(PUBCOMP);
  }
  return n;
}

function receive(n: number, s: { stream: Uint8Array; offsets: number[] }): number {
  if (typeof gc === "function") gc();
  const { stream, offsets } = s;
  for (let i = 0; i < n; i++) {
    const k = i % IDS;
    inject(stream, offsets[k], offsets[k + 1]);
  }
  return n;
}

/** `n` inbound QoS 0 PUBLISH packets, one per onData: subscription handler and onMessage run. */
export function receiveMany(n: number): number {
  return receive(n, in0);
}

/** As {@link receiveMany}, the topics rotating through 8, so every one misses the topic cache. */
export function receiveRotatingMany(n: number): number {
  return receive(n, inRotating);
}

/** `n` inbound QoS 1 PUBLISH packets: as {@link receiveMany}, plus a PUBACK queued and written. */
export function receiveQos1Many(n: number): number {
  return receive(n, in1);
}

/** Counters, to check after measuring that every operation did what it claims. */
export function counters(): Record<string, number> {
  return {
    received,
    handled,
    payloadBytes,
    delivered,
    errors,
    writes,
    bytesWritten,
    connected: client.connected ? 1 : 0,
    queued: client.queued,
    inflight: client.inflight,
    published: client.stats.published,
    statsDelivered: client.stats.delivered,
    statsReceived: client.stats.received,
    refused: client.stats.refused,
    unknownAcks: client.stats.unknownAcks,
    protocolErrors: client.stats.protocolErrors,
    connectionLosses: client.stats.connectionLosses,
  };
}

// ---- MQTT 5.0: a second client, over its own stub transport ----

let sink5: TransportSink | null = null;
let bytesWritten5 = 0;
let last5: Uint8Array = payload;
let last5Start = 0;
let received5 = 0;
let handled5 = 0;
let userProps5 = 0;
let errors5 = 0;
/** Packets written whole (head and payload: the direct QoS 0 path). */
let writes5 = 0;
/** PUBLISHes written in parts (through the outbox) with an empty topic: under a Topic Alias. */
let aliased5 = 0;
/**
 * The head of the PUBLISH being written, up to its packet id, gathered across the writes
 * it goes out in (under a Topic Alias the client writes a packet in parts): `cap5` bytes
 * so far, `want5` bytes in all once the topic length is known (64 until then), -1 when not gathering.
 */
const head5 = new Uint8Array(64);
let cap5 = -1;
let want5 = 64;

const transport5: Transport = {
  write(data: Uint8Array, start: number, end: number): number {
    bytesWritten5 += end - start;
    last5 = data;
    last5Start = start;
    if (cap5 >= 0 && cap5 < want5) {
      for (let i = start; i < end && cap5 < want5; i++) head5[cap5++] = data[i];
      if (want5 === 64 && cap5 >= 6) {
        let p = 1;
        while (head5[p] & 0x80) p++;
        p++;
        const tl = (head5[p] << 8) | head5[p + 1];
        if (tl === 0) aliased5++;
        want5 = p + 2 + tl + 2;
      }
    }
    return end - start;
  },
  writePacket(head: Uint8Array, body: Uint8Array): boolean {
    // the same work as the 3.1.1 stub's, so the rows compare the clients; the bytes written show the alias in use
    writes5++;
    bytesWritten5 += head.length + body.length;
    return true;
  },
  close() {
    sink5 = null;
  },
};
const platform5: Platform = { ...platform, connect: (_broker, s) => ((sink5 = s), transport5) };

function onTopic5(m: Message): void {
  handled5++;
  // the application reads a property: a walk over offsets in the receive buffer, no object
  userProps5 += m.properties!.userPropertyCount;
}

const client5 = new MqttClient(
  {
    clientId: "bench-xs-5",
    brokers: [{ host: "stub", port: 1883 }],
    protocolVersion: 5,
    outboxBytes: 8192,
    inflightWindow: 16,
    onMessage() {
      received5++;
    },
    onError() {
      errors5++;
    },
  },
  platform5,
);

function inject5(data: Uint8Array, start = 0, end = data.length): void {
  if (!sink5) throw new Error("no 5.0 transport open");
  sink5.onData(data, start, end);
}

/** A 5.0 CONNACK with properties (as mosquitto sends: Receive Maximum, Topic Alias Maximum), SUBACK, PUBACK with reason code 0 and an empty property block. */
const CONNACK5 = new Uint8Array([0x20, 9, 0, 0, 6, 0x21, 0, 20, 0x22, 0, 10]);
const SUBACK5 = new Uint8Array([0x90, 4, 0, 0, 0, 1]);
const PUBACK5 = new Uint8Array([0x40, 4, 0, 0, 0, 0]);
client5.connect();
if (!sink5) throw new Error("the 5.0 client did not open a transport");
(sink5 as TransportSink).onConnect();
inject5(CONNACK5);
if (!client5.connected) throw new Error("the 5.0 client did not accept the CONNACK");
client5.subscribe(FILTER, { qos: 1, handler: onTopic5 });
SUBACK5[2] = last5[last5Start + 2];
SUBACK5[3] = last5[last5Start + 3];
inject5(SUBACK5);

/** Inbound 5.0 QoS 0 PUBLISH packets with the given properties, back to back. */
function preEncode5(properties: object, topic = TOPIC): { stream: Uint8Array; offsets: number[] } {
  const stream = new Uint8Array(IDS * 160);
  const offsets = [0];
  let o = 0;
  for (let k = 0; k < IDS; k++) {
    o += encodePublish5(stream, o, { topic, payload, qos: 0, retain: false, dup: false, packetId: 0, properties });
    offsets.push(o);
  }
  return { stream, offsets };
}
const in5User = preEncode5({ userProperties: { unit: "C", sensor: "bme280" } });
/** No properties (an empty block: Property Length 0). */
const in5Bare = preEncode5({});
/** As in5User, the second property's value different in each of the 64 packets (a sequence number, say): every block misses the topic cache's kept one. */
const in5Changing = ((): { stream: Uint8Array; offsets: number[] } => {
  const stream = new Uint8Array(IDS * 160);
  const offsets = [0];
  let o = 0;
  for (let k = 0; k < IDS; k++) {
    const properties = { userProperties: { unit: "C", seq: `b${k < 10 ? "0" : ""}${k}mq` } };
    o += encodePublish5(stream, o, { topic: TOPIC, payload, qos: 0, retain: false, dup: false, packetId: 0, properties });
    offsets.push(o);
  }
  return { stream, offsets };
})();
/** Through client5's one subscription, by its Subscription Identifier (1), on a topic FILTER does not match: only the identifier routes it. */
const in5SubId = preEncode5({ subscriptionIdentifier: 1 }, "bench/by-identifier");

/**
 * `n` 5.0 QoS 0 publishes of the 48-byte payload: the direct path under the Topic Alias the
 * CONNACK's Topic Alias Maximum lets the client use (the alias in the topic's short head).
 */
export function publish5Many(n: number): number {
  if (typeof gc === "function") gc();
  for (let i = 0; i < n; i++) client5.publish(TOPIC, payload);
  return n;
}

/** `n` 5.0 QoS 1 publishes, each answered by a PUBACK carrying reason code 0 and an empty property block. */
export function publish5Qos1Many(n: number): number {
  if (typeof gc === "function") gc();
  for (let i = 0; i < n; i++) {
    cap5 = 0;
    want5 = 64;
    client5.publish(TOPIC, payload, Q1);
    cap5 = -1;
    PUBACK5[2] = head5[want5 - 2];
    PUBACK5[3] = head5[want5 - 1];
    inject5(PUBACK5);
  }
  return n;
}

function receive5(n: number, s: { stream: Uint8Array; offsets: number[] }): number {
  if (typeof gc === "function") gc();
  const { stream, offsets } = s;
  for (let i = 0; i < n; i++) {
    const k = i % IDS;
    inject5(stream, offsets[k], offsets[k + 1]);
  }
  return n;
}

/** `n` inbound 5.0 QoS 0 PUBLISH packets with 2 user properties; the handler reads their count. */
export function receive5UserMany(n: number): number {
  return receive5(n, in5User);
}

/** `n` inbound 5.0 QoS 0 PUBLISH packets without properties. */
export function receive5BareMany(n: number): number {
  return receive5(n, in5Bare);
}

/** As {@link receive5UserMany}, one property's value changing from packet to packet: the property block is walked every time. */
export function receive5ChangingMany(n: number): number {
  return receive5(n, in5Changing);
}

/** `n` inbound 5.0 QoS 0 PUBLISH packets carrying a Subscription Identifier: routed by it, no topic match. */
export function receive5SubIdMany(n: number): number {
  return receive5(n, in5SubId);
}

/** The 5.0 client's counters. */
export function counters5(): Record<string, number> {
  return {
    received: received5,
    handled: handled5,
    userProperties: userProps5,
    errors: errors5,
    aliased: aliased5,
    writes: writes5,
    bytesWritten: bytesWritten5,
    connected: client5.connected ? 1 : 0,
    queued: client5.queued,
    inflight: client5.inflight,
    published: client5.stats.published,
    delivered: client5.stats.delivered,
    protocolErrors: client5.stats.protocolErrors,
    refusedByBroker: client5.stats.refusedByBroker,
  };
}

// ---- memory at rest ----

/**
 * The rest measurement's platform pieces, as a real platform makes them: classes whose
 * methods live on the prototype (Moddable's and Node's transports are such classes), so
 * what is counted is the client and the few fields of its transport and timer.
 */
let lastRest: RestTransport | null = null;
class RestTransport implements Transport {
  sink: TransportSink;
  constructor(sink: TransportSink) {
    this.sink = sink;
    lastRest = this;
  }
  write(_data: Uint8Array, start: number, end: number): number {
    return end - start;
  }
  writePacket(): boolean {
    return true;
  }
  close(): void {}
}
class RestTimer {
  ms = -1;
  set(ms: number): void {
    this.ms = ms;
  }
  clear(): void {
    this.ms = -1;
  }
}
const restPlatform: Platform = {
  connect: (_broker, sink) => new RestTransport(sink),
  timer: () => new RestTimer(),
  now: () => clock,
};

/** Clients made by {@link restClient}, kept so the collector cannot take them. */
const kept: MqttClient[] = [];
const restBrokers = [{ host: "stub", port: 1883 }];

/**
 * With `make` false: a collection only, the baseline. With `make` true: one more client with
 * default options is made over {@link restPlatform}, connected (CONNACK accepted) and kept;
 * then a collection. The difference in `currentHeapCount` between the two replies is what a
 * connected client (with its transport and timer) holds at rest.
 */
export function restClient(make: boolean): number {
  if (make) {
    const c = new MqttClient({ clientId: "rest", brokers: restBrokers }, restPlatform);
    c.connect();
    const sink = (lastRest as unknown as RestTransport).sink;
    lastRest = null;
    sink.onConnect();
    sink.onData(CONNACK, 0, 4);
    if (!c.connected) throw new Error("rest client did not connect");
    kept.push(c);
  }
  if (typeof gc === "function") gc();
  return kept.length;
}
