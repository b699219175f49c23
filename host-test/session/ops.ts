/**
 * The client on a manual clock: scenarios that drive `MqttClient.tick(now)` by hand over an
 * in-memory transport whose peer is the scenario (it reads what the client wrote, packet by
 * packet, and answers with bytes it builds). No real time passes and nothing is random, so
 * each scenario's trace is exact. Every scenario takes its starting clock, so the suite
 * runs each once from 1000 and once from just below 2^32, the deadlines falling across
 * the wrap.
 *
 * Plain ECMAScript, JSON out: the same compiled file runs on Node and inside XS.
 */
import { backoffDelay } from "../../src/mqtt/connection.js";
import { MqttClient, type ClientOptions } from "../../src/mqtt/client.js";
import type { MqttError } from "../../src/mqtt/errors.js";
import type { Message } from "../../src/mqtt/message.js";
import { PacketName } from "../../src/mqtt/packet.js";
import type { BrokerAddress, Platform, Timer, Transport, TransportSink } from "../../src/mqtt/platform.js";

/** One line of a scenario's trace; `t` is milliseconds since the scenario's start. */
export interface Event {
  t: number;
  what: string;
  detail?: string | number;
}

/** The client's side of one connection: what it wrote, as packets. */
class Pipe implements Transport {
  closed = false;
  /** Bytes written and not yet read as packets by the scenario. */
  private pending: number[] = [];
  constructor(
    readonly broker: BrokerAddress,
    readonly sink: TransportSink,
  ) {}
  write(data: Uint8Array, start: number, end: number): number {
    if (this.closed) return 0;
    for (let i = start; i < end; i++) this.pending.push(data[i]);
    return end - start;
  }
  writePacket(head: Uint8Array, body: Uint8Array): boolean {
    if (this.closed) return false;
    this.write(head, 0, head.length);
    this.write(body, 0, body.length);
    return true;
  }
  close(): void {
    this.closed = true;
  }
  /** The whole packets written since the last call, each as its bytes. */
  packets(): number[][] {
    const out: number[][] = [];
    const p = this.pending;
    let i = 0;
    for (;;) {
      if (i + 2 > p.length) break;
      let n = 0;
      let mul = 1;
      let k = i + 1;
      for (; k < p.length; k++) {
        n += (p[k] & 0x7f) * mul;
        mul *= 128;
        if ((p[k] & 0x80) === 0) break;
      }
      const end = k + 1 + n;
      if (end > p.length) break;
      out.push(p.slice(i, end));
      i = end;
    }
    this.pending = p.slice(i);
    return out;
  }
}

/** The manual platform: the clock moves only when the scenario says; the timer only records what it was asked. */
class Manual implements Platform {
  nowMs: number;
  /** What the client last armed: ms, or -1 when cleared. */
  armed = -1;
  readonly pipes: Pipe[] = [];
  constructor(start: number) {
    this.nowMs = start >>> 0;
  }
  connect(broker: BrokerAddress, sink: TransportSink): Transport {
    const p = new Pipe(broker, sink);
    this.pipes.push(p);
    return p;
  }
  timer(_callback: () => void): Timer {
    const self = this;
    return {
      set(ms: number) {
        self.armed = ms;
      },
      clear() {
        self.armed = -1;
      },
    };
  }
  now(): number {
    return this.nowMs;
  }
  random(): number {
    return 0.5;
  }
  get pipe(): Pipe {
    return this.pipes[this.pipes.length - 1];
  }
}

/** A scenario's world: the platform, the client, and the trace. */
class World {
  readonly platform: Manual;
  readonly client: MqttClient;
  readonly trace: Event[] = [];
  private readonly start: number;
  constructor(start: number, options: Partial<ClientOptions>) {
    this.start = start >>> 0;
    this.platform = new Manual(start);
    this.client = new MqttClient(
      {
        clientId: "manual",
        brokers: [
          { host: "a", port: 1 },
          { host: "b", port: 2 },
        ],
        reconnect: { min: 1000, max: 8000, jitter: 0 },
        onConnect: (present) => this.log("connected", present ? "session" : "new"),
        onDisconnect: (e) => this.log("lost", e?.code),
        onError: (e: MqttError) => this.log("error", e.code),
        onMessage: (m: Message) => this.log("message", `${m.topic}:${m.text()}`),
        onDrop: (reason, token) => this.log("drop", `${reason}:${token}`),
        onDelivered: (token) => this.log("delivered", token),
        ...options,
      },
      this.platform,
    );
  }
  /** Milliseconds since the start, across the wrap. */
  get t(): number {
    return (this.platform.nowMs - this.start) >>> 0;
  }
  log(what: string, detail?: string | number): void {
    this.trace.push(detail === undefined ? { t: this.t, what } : { t: this.t, what, detail });
  }
  /** Sets the clock to `t` ms after the start and calls tick; logs what tick returned and what was armed. */
  at(t: number): number {
    this.platform.nowMs = (this.start + t) >>> 0;
    const wait = this.client.tick(this.platform.nowMs);
    if (wait !== this.platform.armed) this.log("MISMATCH", `tick returned ${wait}, timer armed ${this.platform.armed}`);
    this.drain();
    return wait;
  }
  /** Logs the packets the client wrote since the last look. */
  drain(): void {
    for (const pipe of this.platform.pipes) for (const p of pipe.packets()) this.log("sent", describe(p));
  }
  /** The broker's side: opens the current pipe. */
  open(): void {
    this.platform.pipe.sink.onConnect();
    this.drain();
  }
  /** The broker sends `bytes` on the current pipe. */
  send(bytes: number[]): void {
    this.platform.pipe.sink.onData(new Uint8Array(bytes), 0, bytes.length);
    this.drain();
  }
  /** The broker closes the current pipe. */
  hangUp(): void {
    this.platform.pipe.sink.onClose("cut");
    this.drain();
  }
  connack(rc = 0, present = false): void {
    this.send([0x20, 2, present ? 1 : 0, rc]);
  }
  /** Opens the transport and accepts the CONNECT. */
  connectNow(present = false): void {
    this.open();
    this.connack(0, present);
  }
}

/** A packet as `name` or `name:id` (and `dup` for a resent PUBLISH). */
function describe(p: number[]): string {
  const type = p[0] >> 4;
  const name = PacketName[type];
  let at = 1;
  while (p[at] & 0x80) at++;
  at++;
  if (type === 3) {
    const qos = (p[0] >> 1) & 3;
    if (qos === 0) return name;
    const tl = (p[at] << 8) | p[at + 1];
    const id = (p[at + 2 + tl] << 8) | p[at + 3 + tl];
    return `${name}:${id}${p[0] & 8 ? ":dup" : ""}`;
  }
  if (type >= 4 && type <= 11 && type !== 9) return `${name}:${(p[at] << 8) | p[at + 1]}`;
  return name;
}

/** A PUBLISH from the broker. */
function publish(topic: string, payload: string, qos: number, id: number, dup = false): number[] {
  const t = Array.from(topic, (c) => c.charCodeAt(0));
  const b = Array.from(payload, (c) => c.charCodeAt(0));
  const body = [t.length >> 8, t.length & 0xff, ...t, ...(qos > 0 ? [id >> 8, id & 0xff] : []), ...b];
  return [0x30 | (dup ? 8 : 0) | (qos << 1), body.length, ...body];
}

// ---- scenarios: each returns its trace ----

/**
 * Keepalive 10 s: no PINGREQ while the broker talks or the client sends, one keepalive
 * after the last packet sent; the next one interval after the PINGRESP.
 */
export function keepalive(start: number): Event[] {
  const w = new World(start, { keepalive: 10 });
  w.client.connect();
  w.connectNow();
  w.log("wait", w.at(0));
  w.log("wait", w.at(5000));
  w.log("wait", w.at(9999));
  w.log("wait", w.at(10000)); // PINGREQ
  w.at(10020);
  w.send([0xd0, 0]); // PINGRESP: the next PINGREQ is due one interval after it
  w.log("wait", w.at(10020));
  w.at(12000);
  w.client.publish("a/b", new Uint8Array([1])); // counted, not timed: seen at the next look, dated to the last (10020)
  w.log("wait", w.at(15020));
  w.log("wait", w.at(20019));
  w.log("wait", w.at(20020)); // PINGREQ: early (8 s after the publish), never late
  w.send([0xd0, 0]);
  w.log("wait", w.at(25000));
  w.log("wait", w.at(30020)); // PINGREQ
  return w.trace;
}

/** Keepalive 10 s, PINGRESP wait 3 s: no answer ends the connection at exactly 3 s, and backoff follows. */
export function pingTimeout(start: number): Event[] {
  const w = new World(start, { keepalive: 10, pingTimeout: 3000 });
  w.client.connect();
  w.connectNow();
  w.at(5000);
  w.log("wait", w.at(10000)); // PINGREQ
  w.log("wait", w.at(12999));
  w.log("wait", w.at(13000)); // lost: KeepaliveTimeout, reconnect in 1000
  w.log("wait", w.at(13999));
  w.log("wait", w.at(14000)); // the reconnect opens the next transport
  w.log("pipes", w.platform.pipes.length);
  return w.trace;
}

/** CONNACK wait 2 s: an attempt without CONNACK fails at exactly 2 s, then the next broker after the backoff. */
export function connackTimeout(start: number): Event[] {
  const w = new World(start, { connectTimeout: 2000 });
  w.client.connect();
  w.open(); // CONNECT written, no answer
  w.log("wait", w.at(0));
  w.log("wait", w.at(1999));
  w.log("wait", w.at(2000)); // ConnectTimeout; retry in 1000 on broker b
  w.log("broker", w.client.broker.host);
  w.log("wait", w.at(3000)); // opens to b
  w.log("wait", w.at(5000)); // no transport event at all: times out too; retry in 2000 on a
  w.log("broker", w.client.broker.host);
  w.log("wait", w.at(7000));
  w.connectNow();
  w.log("wait", w.at(7000));
  return w.trace;
}

/** A broker refusing with CONNACK 5: the waits double from 1 s up to the 8 s cap, and a success starts them over. */
export function backoff(start: number): Event[] {
  const w = new World(start, { keepalive: 0 });
  w.client.connect();
  let t = 0;
  for (let k = 0; k < 6; k++) {
    w.open();
    w.connack(5);
    const wait = w.at(t);
    w.log("wait", wait);
    t += wait;
    w.at(t); // the reconnect
  }
  w.connectNow();
  w.hangUp(); // an established connection lost: backoff starts over
  w.log("wait", w.at(t));
  return w.trace;
}

/** backoffDelay itself: doubling, cap, jitter share, and a huge attempt number. */
export function backoffTable(): number[][] {
  const rows: number[][] = [];
  for (const [attempt, min, max, jitter, random] of [
    [0, 1000, 60000, 0, 0],
    [1, 1000, 60000, 0, 0],
    [5, 1000, 60000, 0, 0.9],
    [6, 1000, 60000, 0, 0],
    [7, 1000, 60000, 0, 0],
    [3, 1000, 60000, 0.25, 0],
    [3, 1000, 60000, 0.25, 0.999],
    [3, 1000, 60000, 1, 0.5],
    [1000, 1000, 60000, 0, 0],
    [0, 0, 60000, 0.5, 0.5],
  ]) rows.push([attempt, min, max, jitter, random, backoffDelay(attempt, min, max, jitter, random)]);
  return rows;
}

/**
 * Inbound QoS 2 with a table of 2: a third unreleased message is not delivered nor
 * acknowledged; the client reports it and reconnects; in the resumed session the broker
 * resends all three with DUP, and only the one never delivered is delivered.
 */
export function qos2Overflow(start: number): Event[] {
  const w = new World(start, { inboundQos2: 2, clean: false });
  w.client.connect();
  w.connectNow();
  w.send(publish("q/2", "one", 2, 1));
  w.send(publish("q/2", "two", 2, 2));
  w.send(publish("q/2", "three", 2, 3)); // table full
  w.log("stats", JSON.stringify({ dropped: w.client.stats.droppedInbound, received: w.client.stats.received }));
  w.log("wait", w.at(0));
  w.at(1000); // reconnect
  w.connectNow(true);
  w.send(publish("q/2", "one", 2, 1, true)); // PUBREC lost with the connection: resent, not delivered again
  w.send([0x62, 2, 0, 1]); // PUBREL 1
  w.send(publish("q/2", "three", 2, 3, true)); // room now: delivered once
  w.send([0x62, 2, 0, 2]);
  w.send([0x62, 2, 0, 3]);
  w.log("stats", JSON.stringify({ dropped: w.client.stats.droppedInbound, received: w.client.stats.received, duplicates: w.client.stats.duplicatesInbound }));
  return w.trace;
}

/** A handler that throws: reported as HandlerError and counted; the next message is delivered as usual. */
export function handlerThrows(start: number): Event[] {
  const w = new World(start, {});
  let calls = 0;
  w.client.subscribe("h/#", {
    handler: () => {
      if (++calls === 1) throw new Error("boom");
    },
  });
  w.client.connect();
  w.connectNow();
  w.send([0x90, 3, 0, 1, 0]); // SUBACK
  w.send(publish("h/1", "a", 0, 0));
  w.send(publish("h/2", "b", 1, 7));
  w.log("stats", JSON.stringify({ handlerErrors: w.client.stats.handlerErrors, received: w.client.stats.received, connected: w.client.connected }));
  return w.trace;
}

/**
 * An unsubscribe made while offline goes out after the next CONNACK, its callback runs on
 * the UNSUBACK; an UNSUBSCRIBE in flight when the connection drops is sent again.
 */
export function unsubscribeOffline(start: number): Event[] {
  const w = new World(start, { clean: false });
  w.client.subscribe("u/1");
  w.client.subscribe("u/2");
  w.client.connect();
  w.connectNow();
  w.send([0x90, 4, 0, 1, 0, 0]);
  w.hangUp();
  w.client.unsubscribe("u/1", (e) => w.log("unsubscribed", e ? e.code : "u/1"));
  w.at(1000);
  w.connectNow(true);
  w.client.unsubscribe("u/2", (e) => w.log("unsubscribed", e ? e.code : "u/2"));
  w.hangUp(); // before its UNSUBACK
  w.at(2000);
  w.connectNow(true);
  // both requests of the lost connections went again, with new ids (4, 5)
  w.send([0xb0, 2, 0, 2]); // an UNSUBACK for an id of a lost connection: ignored, counted
  w.send([0xb0, 2, 0, 4]);
  w.send([0xb0, 2, 0, 5]);
  w.log("stats", JSON.stringify({ unknownAcks: w.client.stats.unknownAcks, connected: w.client.connected }));
  return w.trace;
}

/**
 * A subscription `known` to the broker's session (granted before a deep sleep) is not sent
 * when the session is present, and is sent with the others when a connection finds none.
 */
export function knownSubscription(start: number): Event[] {
  const w = new World(start, { clean: false });
  w.client.subscribe("k/known", { qos: 1, known: true, done: (e, g) => w.log("granted", e ? e.code : `k/known:${g}`) });
  w.client.subscribe("k/new", { qos: 1 });
  w.client.connect();
  w.connectNow(true);
  w.send([0x90, 3, 0, 1, 1]);
  w.hangUp();
  w.at(1000);
  w.connectNow(true); // the session has both now: nothing is sent
  w.hangUp();
  w.at(2000);
  w.connectNow(false); // the broker lost the session: both again
  w.send([0x90, 4, 0, 2, 1, 1]);
  return w.trace;
}

// ---- QoS 2 publish (§4.3.3, §4.4) ----

const Q2 = { qos: 2 };
const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const ackOf = (type: number, id: number) => [type, 2, id >> 8, id & 0xff];
const PUBREC = (id: number) => ackOf(0x50, id);
const PUBCOMP = (id: number) => ackOf(0x70, id);
const PUBACK = (id: number) => ackOf(0x40, id);

/** PUBLISH → PUBREC → PUBREL → PUBCOMP; onDelivered on the PUBCOMP; the window slot holds until then. */
export function qos2Flow(start: number): Event[] {
  const w = new World(start, { inflightWindow: 1 });
  w.client.connect();
  w.connectNow();
  w.client.publish("q2/a", bytes("one"), Q2);
  w.client.publish("q2/a", bytes("two"), Q2); // waits for the window
  w.drain();
  w.send(PUBREC(1));
  w.log("inflight", w.client.inflight);
  w.send(PUBCOMP(1)); // delivered; the window frees, the second goes
  w.send(PUBREC(2));
  w.send(PUBCOMP(2));
  w.log("stats", JSON.stringify({ delivered: w.client.stats.delivered, queued: w.client.queued, inflight: w.client.inflight }));
  return w.trace;
}

/** Cut before the PUBREC: the PUBLISH goes again with DUP=1 and its id. Cut after it: only the PUBREL goes again. */
export function qos2Cuts(start: number): Event[] {
  const w = new World(start, { clean: false });
  w.client.connect();
  w.connectNow();
  w.client.publish("q2/a", bytes("one"), Q2);
  w.drain();
  w.hangUp(); // before PUBREC
  w.at(1000);
  w.connectNow(true);
  w.send(PUBREC(1));
  w.hangUp(); // after PUBREC, before PUBCOMP
  w.at(2000);
  w.connectNow(true);
  w.send(PUBCOMP(1));
  w.log("stats", JSON.stringify({ delivered: w.client.stats.delivered, resent: w.client.stats.resent, queued: w.client.queued }));
  return w.trace;
}

/** PUBRELs after a reconnect go in the order their PUBRECs came, then unacknowledged PUBLISHes in their order. */
export function qos2Order(start: number): Event[] {
  const w = new World(start, { clean: false });
  w.client.connect();
  w.connectNow();
  for (const m of ["1", "2", "3", "4", "5"]) w.client.publish("q2/o", bytes(m), Q2);
  w.drain();
  w.send(PUBREC(3));
  w.send(PUBREC(1));
  w.send(PUBREC(4));
  w.hangUp(); // 2 and 5 unacknowledged; 3, 1, 4 released
  w.at(1000);
  w.connectNow(true);
  return w.trace;
}

/**
 * Unknown PUBREC: answered with PUBREL and counted. Unknown PUBCOMP: ignored and counted.
 * PUBACK for a QoS 2 id before its PUBREC (RabbitMQ takes QoS 2 as QoS 1): done, counted;
 * after its PUBREC: a protocol error.
 */
export function qos2Unknown(start: number): Event[] {
  const w = new World(start, {});
  w.client.connect();
  w.connectNow();
  w.send(PUBREC(77));
  w.send(PUBCOMP(78));
  w.log("stats", JSON.stringify({ unknownAcks: w.client.stats.unknownAcks, connected: w.client.connected }));
  w.client.publish("q2/a", bytes("x"), Q2);
  w.drain();
  w.send(PUBACK(1));
  w.log("stats", JSON.stringify({ qos2AsQos1: w.client.stats.qos2AsQos1, inflight: w.client.inflight, connected: w.client.connected }));
  w.client.publish("q2/a", bytes("y"), Q2);
  w.drain();
  w.send(PUBREC(2));
  w.send(PUBACK(2));
  w.log("connected", String(w.client.connected));
  return w.trace;
}

/**
 * The broker kept no session: a released message is done (its PUBREC acknowledged it),
 * reported and counted; an unacknowledged one is published again.
 */
export function qos2NoSession(start: number): Event[] {
  const w = new World(start, { clean: false });
  w.client.connect();
  w.connectNow();
  w.client.publish("q2/a", bytes("a"), Q2);
  w.client.publish("q2/a", bytes("b"), Q2);
  w.drain();
  w.send(PUBREC(1));
  w.hangUp();
  w.at(1000);
  w.connectNow(false);
  w.send(PUBREC(2));
  w.send(PUBCOMP(2));
  w.log("stats", JSON.stringify({ delivered: w.client.stats.delivered, releasedWithoutSession: w.client.stats.releasedWithoutSession, queued: w.client.queued }));
  return w.trace;
}

/** close() writes the acks it owes (here a PUBCOMP) before DISCONNECT; onReleased marks the inbound flow complete. */
export function closeOwesAcks(start: number): Event[] {
  const w = new World(start, { onReleased: (id) => w.log("released", id) });
  w.client.connect();
  w.connectNow();
  w.send(publish("in/2", "m", 2, 9));
  w.send([0x62, 2, 0, 9]); // PUBREL: the PUBCOMP is queued
  w.client.close();
  w.drain();
  w.log("closed", String(w.platform.pipe.closed));
  return w.trace;
}
