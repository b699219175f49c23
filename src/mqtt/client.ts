/**
 * The MQTT 3.1.1 client: QoS 0 and 1 out, QoS 0-2 in, a fixed in-flight window, DUP
 * resend after reconnect, keepalive with a PINGRESP deadline, reconnect with backoff and
 * jitter across a list of brokers, a bounded offline queue, and wildcard dispatch.
 *
 * All memory is allocated at construction from the options: the receive buffer, the
 * control send buffer, the outbox ring and its window slots. Publishing and receiving
 * allocate nothing in steady state. The client reaches the world only through a
 * {@link Platform}; nothing here names Node or Moddable.
 */
import { Decoder, type PacketHandler } from "./decode.js";
import {
  encodeAck,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  header,
  topicNameLength,
  writePublish,
  encodeSubscribe,
  encodeUnsubscribe,
  sizeOfConnect,
  sizeOfSubscribe,
  sizeOfUnsubscribe,
  type Bytes,
  type ConnectFields,
  type PublishFields,
  type WillFields,
  varintSize,
} from "./encode.js";
import { ConnectionRefusedError, ErrorCode, MqttError, ProtocolCode, ProtocolError } from "./errors.js";
import { Message } from "./message.js";
import { ACKED_AFTER_DROP, ENTRY_HEADER, Outbox } from "./outbox.js";
import { PacketType as T, PacketName, type Packet } from "./packet.js";
import type { BrokerAddress, Platform, Timer, Transport, TransportSink } from "./platform.js";
import { SubscriptionTable, validateTopicFilter } from "./topic.js";
import { utf8Length, writeUtf8 } from "./utf8.js";

/** What to do with a publish when the outbox is full. */
export type QueuePolicy = "refuse" | "drop-oldest";

export interface ClientOptions {
  clientId: string;
  /** Tried in order; after a failed attempt the next one is used. */
  brokers: BrokerAddress[];
  /** Clean session (§3.1.2.4); default true. */
  clean?: boolean;
  /** Seconds; 0 turns keepalive off. Default 60. */
  keepalive?: number;
  will?: WillFields | null;
  username?: string | null;
  password?: Bytes | null;
  /** Largest inbound packet held whole, and the fragment size above it. Default 1024. */
  receiveBufferSize?: number;
  /** Room for control packets: CONNECT, SUBSCRIBE, acks, PINGREQ. Default 512. */
  sendBufferSize?: number;
  /** Bytes of outgoing PUBLISH packets held: the offline queue and the resend store. Default 8192. */
  outboxBytes?: number;
  /** QoS 1 messages in flight at once. Default 8. */
  inflightWindow?: number;
  /** Outbox full: refuse the new message (throws `QueueFull`) or drop the oldest. Default "refuse". */
  queuePolicy?: QueuePolicy;
  /** Largest outgoing PUBLISH in bytes; larger ones are refused before a byte is sent. Default: what the outbox holds. */
  maxPacketSize?: number;
  /** Inbound messages larger than the receive buffer: hand them over in fragments, or drop and count them. Default "fragment". */
  oversize?: "fragment" | "drop";
  /** Reconnect backoff: first delay, cap (ms), and jitter (0-1, share of the delay randomized). */
  reconnect?: { min?: number; max?: number; jitter?: number };
  /** Milliseconds to wait for CONNACK after the transport opens. Default 10000. */
  connectTimeout?: number;
  /** Milliseconds to wait for PINGRESP. Default half the keepalive. */
  pingTimeout?: number;
  /** Distinct publish topics whose UTF-8 (and a ready QoS 0 header) is kept, so a repeated topic costs no string walk. Default 16. */
  topicCache?: number;
  /**
   * Recently received topics kept with the subscriptions they match, so a repeated topic
   * costs no UTF-8 check and no match. Default 4; 0 keeps none.
   */
  inboundTopics?: number;
  /** Longest received topic kept that way, in bytes. Default 128. */
  inboundTopicLength?: number;

  /** Connected (CONNACK accepted). */
  onConnect?(sessionPresent: boolean, broker: BrokerAddress): void;
  /** An established connection ended; the client reconnects unless closed. */
  onDisconnect?(error: MqttError | null): void;
  /** Every inbound message (or fragment), after the handlers of matching subscriptions. */
  onMessage?(message: Message): void;
  /** A publish finished: QoS 1 acknowledged, QoS 0 written. `token` is what publish returned. */
  onDelivered?(token: number): void;
  /** A message was dropped: "queue-full" (outgoing, oldest dropped) or "oversize" (inbound). */
  onDrop?(reason: "queue-full" | "oversize", token: number): void;
  /** Something failed that the application may want to know: refusals, protocol errors, timeouts. */
  onError?(error: MqttError): void;
}

export type MessageHandler = (message: Message) => void;

export interface SubscribeOptions {
  qos?: number;
  /** Called for messages whose topic matches this filter. */
  handler?: MessageHandler | null;
  /** The broker answered: granted QoS, or an error (SUBACK 0x80). */
  done?: (error: MqttError | null, granted: number) => void;
}

export interface PublishOptions {
  qos?: number;
  retain?: boolean;
}

/** Counters; each drop or refusal is counted here and reported through a callback. */
export interface ClientStats {
  published: number;
  delivered: number;
  /** Publishes refused: queue full under "refuse", or over the size limit. */
  refused: number;
  /** Outgoing messages dropped from a full outbox under "drop-oldest". */
  dropped: number;
  /** QoS 1 messages sent again with DUP=1 after a reconnect. */
  resent: number;
  received: number;
  /** Inbound messages dropped for being larger than the receive buffer (oversize "drop"). */
  droppedInbound: number;
  /** Inbound QoS 2 duplicates not delivered twice. */
  duplicatesInbound: number;
  /** PUBACKs for ids not in flight, ignored. */
  unknownAcks: number;
  connects: number;
  connectionLosses: number;
  protocolErrors: number;
}

/** Subscriptions remembered per received topic; a topic matching more is matched every time. */
const ROUTE_MAX = 4;

/**
 * A publish topic: its UTF-8, and the start of a QoS 0 PUBLISH (fixed header, remaining
 * length, topic) made for one payload length, so a repeated publish writes it as it is.
 */
class TopicHead {
  /** [first byte][remaining length, 1-4 bytes] ending at index 4, then [topic length][topic]. */
  private readonly buf: Uint8Array;
  /** The topic's UTF-8 (a view of `buf`). */
  readonly bytes: Uint8Array;
  /** `buf` from the first byte on, by width of the remaining length: each made once. */
  private readonly heads: (Uint8Array | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  /** The packet up to its payload, for `payload` bytes of payload. */
  head: Uint8Array;
  /** The payload length `head` is made for; -1 before the first. */
  payload = -1;

  /** Throws `InvalidTopic` unless `topic` is a valid topic name. */
  constructor(topic: string) {
    const n = topicNameLength(topic, "topic name:");
    const b = (this.buf = new Uint8Array(7 + n));
    b[5] = n >> 8;
    b[6] = n & 0xff;
    writeUtf8(b, 7, topic);
    this.bytes = b.subarray(7);
    this.head = b;
  }

  /**
   * Makes `head` right for a QoS 0 payload of `payload` bytes; false (and `head` left as
   * it was) when the packet would be larger than `limit`.
   */
  prepare(payload: number, limit: number): boolean {
    const remaining = 2 + this.bytes.length + payload;
    if (remaining + 5 > limit) return false;
    const v = varintSize(remaining);
    header(this.buf, 4 - v, 0x30, remaining);
    let head = this.heads[v];
    if (head === undefined) head = this.heads[v] = this.buf.subarray(4 - v);
    this.head = head;
    this.payload = payload;
    return true;
  }
}

const S_IDLE = 0; // not connected; a reconnect may be scheduled
const S_OPENING = 1; // transport opening
const S_CONNACK = 2; // CONNECT sent, waiting for CONNACK
const S_CONNECTED = 3;
const S_CLOSED = 4; // closed by the application

interface SubRow {
  /** 0: to send, 1: sent, 2: acknowledged. */
  state: number;
  handler: MessageHandler | null;
  done: ((error: MqttError | null, granted: number) => void) | null;
}

/** A SUBSCRIBE or UNSUBSCRIBE awaiting its ack. */
interface PendingRequest {
  type: number;
  filters: string[];
  done: ((error: MqttError | null) => void) | null;
}

/** Elapsed milliseconds on a wrapping 32-bit clock. */
function since(now: number, then: number): number {
  return (now - then) >>> 0;
}

const Q0: PublishOptions = { qos: 0 };

export class MqttClient {
  readonly stats: ClientStats;
  /** Publishes accepted: `stats.published`, and the source of tokens. */
  private issued = 0;
  private readonly counters = {
    delivered: 0,
    refused: 0,
    dropped: 0,
    resent: 0,
    received: 0,
    droppedInbound: 0,
    duplicatesInbound: 0,
    unknownAcks: 0,
    connects: 0,
    connectionLosses: 0,
    protocolErrors: 0,
  };

  private readonly o: ClientOptions;
  private readonly platform: Platform;
  private readonly timer: Timer;
  private readonly decoder: Decoder;
  private readonly outbox: Outbox;
  private readonly ctl: Uint8Array;
  private ctlStart = 0;
  private ctlEnd = 0;
  private readonly message = new Message();
  /** Per inbound topic cache slot: the slot's key and subscription generation the route was made for, and the matching rows. */
  private readonly routeKey: Uint32Array;
  private readonly routeGen: Uint32Array;
  private readonly routeCount: Int8Array;
  private readonly routeRows: Int32Array;
  /** The decoder's topic cache keys: a slot's key changes whenever it takes another topic. */
  private readonly topicKeys: Uint32Array;
  private readonly subs = new SubscriptionTable<SubRow>();
  private readonly pending = new Map<number, PendingRequest>();
  private unsubscribeLater: string[] = [];
  private readonly topics = new Map<string, TopicHead>();
  /** The PUBLISH being queued; its packet id is written when it is first sent. */
  private readonly fields: PublishFields = { topic: "", topicBytes: null, payload: "", qos: 0, retain: false, dup: false, packetId: 1 };
  private readonly connectFields: ConnectFields;
  /** Inbound QoS 2 ids answered with PUBREC, awaiting PUBREL. */
  private readonly awaitingRel: Uint16Array;
  private awaitingRelCount = 0;

  private state = S_IDLE;
  /**
   * Connected with nothing waiting to be written (no control bytes, no partly written
   * entry, nothing queued in the outbox): a QoS 0 publish may go straight to the
   * transport. Set by pump() when it runs dry; cleared by everything that adds work.
   */
  private direct = false;

  private transport: Transport | null = null;
  private sink: TransportSink | null = null;
  private brokerIndex = 0;
  private attempt = 0;
  private reconnectAt = 0;
  private reconnectPending = false;
  private connackDeadline = 0;
  /**
   * When something was last sent and received. The hot paths do not read the clock: they
   * count (sentCount, rxCount), and the timer, which looks at least every half keepalive,
   * turns a changed count into the time of its previous look (seenAt). The times are
   * therefore never later than the truth, so a PINGREQ is never late.
   */
  private lastSent = 0;
  private lastReceived = 0;
  private sentCount = 0;
  private sentSeen = 0;
  private rxCount = 0;
  private rxSeen = 0;
  private seenAt = 0;
  private pingOutstanding = false;
  private pingSentAt = 0;
  private lastId = 0;
  /** The outbox entry being written, and how far. */
  private entry = -1;
  private entryPos = 0;
  private pumping = false;
  /** Inbound: the current message is an oversize one being dropped, or a QoS 2 duplicate. */
  private skipping = false;
  /** Handlers are running: unsubscribes wait so the dispatch loop's row indexes stay valid. */
  private dispatching = false;
  private deferredDeletes: string[] = [];

  private readonly keepaliveMs: number;
  private readonly pingTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly backoffMin: number;
  private readonly backoffMax: number;
  private readonly jitter: number;
  private readonly maxPacket: number;

  constructor(options: ClientOptions, platform: Platform) {
    if (!options || !Array.isArray(options.brokers) || options.brokers.length === 0)
      throw new MqttError(ErrorCode.InvalidArgument, "options.brokers must list at least one broker");
    this.o = options;
    this.platform = platform;
    const client = this;
    // `published` is read from the token count, so a publish counts it once
    this.stats = Object.defineProperty(this.counters, "published", { get: () => client.issued, enumerable: true }) as unknown as ClientStats;
    const keepalive = options.keepalive ?? 60;
    this.keepaliveMs = keepalive * 1000;
    this.pingTimeoutMs = options.pingTimeout ?? this.keepaliveMs / 2;
    this.connectTimeoutMs = options.connectTimeout ?? 10000;
    this.backoffMin = options.reconnect?.min ?? 1000;
    this.backoffMax = options.reconnect?.max ?? 60000;
    this.jitter = options.reconnect?.jitter ?? 0.25;
    this.connectFields = {
      clientId: options.clientId,
      clean: options.clean ?? true,
      keepalive,
      will: options.will ?? null,
      username: options.username ?? null,
      password: options.password ?? null,
    };
    const connectSize = sizeOfConnect(this.connectFields); // validates the options
    this.ctl = new Uint8Array(Math.max(options.sendBufferSize ?? 512, connectSize, 64));
    const inboundTopics = options.inboundTopics ?? 4;
    this.decoder = new Decoder(options.receiveBufferSize ?? 1024, this as PacketHandler, {
      packet: this.message,
      topicCache: inboundTopics,
      topicCacheLength: options.inboundTopicLength,
    });
    this.topicKeys = this.decoder.topics === null ? new Uint32Array(0) : this.decoder.topics.keys;
    this.routeKey = new Uint32Array(inboundTopics);
    this.routeGen = new Uint32Array(inboundTopics);
    this.routeCount = new Int8Array(inboundTopics);
    this.routeRows = new Int32Array(inboundTopics * ROUTE_MAX);
    const outboxBytes = options.outboxBytes ?? 8192;
    this.outbox = new Outbox(outboxBytes, options.inflightWindow ?? 8);
    this.maxPacket = Math.min(options.maxPacketSize ?? outboxBytes, outboxBytes - ENTRY_HEADER);
    this.awaitingRel = new Uint16Array(16);
    this.timer = platform.timer(() => this.tick());
  }

  /** One sink per connection attempt, so events from a transport already given up are ignored. */
  private makeSink(): TransportSink {
    const sink: TransportSink = {
      onConnect: () => sink === this.sink && this.onTransportConnect(),
      onData: (d, s, e) => sink === this.sink && this.onData(d, s, e),
      onWritable: () => sink === this.sink && this.pump(),
      onClose: (reason) => sink === this.sink && this.lost(new MqttError(ErrorCode.TransportError, reason ?? "connection closed by the broker")),
    };
    return sink;
  }

  /** Connected and past CONNACK. */
  get connected(): boolean {
    return this.state === S_CONNECTED;
  }

  /** The broker in use or being tried. */
  get broker(): BrokerAddress {
    return this.o.brokers[this.brokerIndex];
  }

  /** Messages waiting in the outbox (queued or awaiting PUBACK). */
  get queued(): number {
    return this.outbox.count;
  }

  get queuedBytes(): number {
    return this.outbox.used;
  }

  get inflight(): number {
    return this.outbox.inflightCount;
  }

  /** Starts connecting; reconnects by itself from then on until {@link close}. */
  connect(): void {
    if (this.state === S_CLOSED) throw new MqttError(ErrorCode.Closed, "client is closed");
    if (this.state !== S_IDLE || this.transport) return;
    this.reconnectPending = false;
    this.open();
  }

  /**
   * Queues a PUBLISH and sends it when it can. Returns a token that `onDelivered` reports
   * when the message is done. Throws {@link MqttError}: `InvalidTopic`, `InvalidQoS` (QoS 2
   * is not sent by this client), `InvalidString`, `PacketTooLarge`, `QueueFull`, `Closed`.
   * Nothing is sent when it throws.
   */
  publish(topic: string, payload: Bytes, options: PublishOptions = Q0): number {
    if (this.direct && payload?.constructor === Uint8Array) {
      // connected and nothing waits ahead of it: a QoS 0 message goes to the transport as it is
      let first = 0x30;
      if (options !== Q0) {
        const qos = options.qos;
        if (qos !== 0 && qos !== undefined) return this.enqueue(topic, payload, options);
        if (options.retain === true) first = 0x31;
      }
      let th = this.topics.get(topic);
      if (th === undefined) th = this.topicHead(topic); // throws InvalidTopic
      const n = (payload as Uint8Array).length;
      if (n === th.payload || th.prepare(n, this.maxPacket)) {
        const head = th.head;
        head[0] = first;
        if (this.transport!.writePacket(head, payload as Uint8Array)) {
          this.sentCount++;
          const token = ++this.issued >>> 0;
          this.counters.delivered++;
          const done = this.o.onDelivered;
          if (done) done(token);
          return token;
        }
      }
    }
    return this.enqueue(topic, payload, options);
  }

  /** Publishes through the outbox: queued, encoded there, and sent in order when it can be. */
  private enqueue(topic: string, payload: Bytes, options: PublishOptions): number {
    if (this.state === S_CLOSED) throw new MqttError(ErrorCode.Closed, "client is closed");
    const qos = options.qos ?? 0;
    if (qos !== 0 && qos !== 1) throw new MqttError(ErrorCode.InvalidQoS, `publish QoS must be 0 or 1, not ${qos}`);
    const th = this.topicHead(topic); // throws InvalidTopic (before anything is queued)
    const topicBytes = th.bytes;
    let payloadLength: number;
    if (payload instanceof Uint8Array) payloadLength = payload.length;
    else if (typeof payload === "string") {
      payloadLength = utf8Length(payload);
      if (payloadLength < 0) throw new MqttError(ErrorCode.InvalidString, "payload string is not sendable UTF-8 (lone surrogate or U+0000)");
    } else throw new MqttError(ErrorCode.InvalidArgument, "payload must be a Uint8Array or a string");
    // the same arithmetic as sizeOfPublish, with topic and QoS already checked
    const remaining = 2 + topicBytes.length + (qos === 1 ? 2 : 0) + payloadLength;
    const size = 1 + (remaining < 128 ? 1 : varintSize(remaining)) + remaining;
    const f = this.fields;
    f.topicBytes = topicBytes;
    f.payload = payload;
    f.qos = qos;
    f.retain = options.retain === true;
    if (size > this.maxPacket) {
      this.counters.refused++;
      throw new MqttError(ErrorCode.PacketTooLarge, `PUBLISH of ${size} bytes exceeds the ${this.maxPacket}-byte limit`);
    }
    const box = this.outbox;
    let at = box.reserve(size);
    while (at < 0) {
      if (this.o.queuePolicy !== "drop-oldest" || box.count === 0 || box.oldest() === this.entry) {
        this.counters.refused++;
        throw new MqttError(ErrorCode.QueueFull, `outbox full (${box.count} messages, ${box.used} bytes)`);
      }
      const dropped = box.dropOldest();
      this.counters.dropped++;
      this.o.onDrop?.("queue-full", dropped);
      at = box.reserve(size);
    }
    const ring = box.ring;
    writePublish(ring, at, f, remaining);
    const token = ++this.issued >>> 0;
    if (qos === 0 && this.direct) {
      // nothing ahead of it (a string payload, or one writePacket refused): write it from
      // where it was encoded; the outbox keeps it only if the transport takes part
      const n = this.transport!.write(ring, at, at + size);
      if (n > 0) this.sentCount++;
      if (n === size) {
        this.delivered(token);
        return token;
      }
      this.direct = false;
      box.commit(at, size, 0, token);
      this.entry = box.next();
      this.entryPos = at + n;
      return token;
    }
    this.direct = false;
    box.commit(at, size, qos, token);
    if (this.state === S_CONNECTED) this.pump();
    return token;
  }

  /**
   * Subscribes to `filter` (validated; throws `InvalidTopicFilter`, `InvalidQoS`). Sent now
   * when connected, else at the next connection; restored after any reconnect that finds
   * no session.
   */
  subscribe(filter: string, options: SubscribeOptions = {}): void {
    if (this.state === S_CLOSED) throw new MqttError(ErrorCode.Closed, "client is closed");
    const qos = options.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new MqttError(ErrorCode.InvalidQoS, `subscription QoS must be 0, 1 or 2, not ${qos}`);
    validateTopicFilter(filter);
    this.fitsSendBuffer(sizeOfSubscribe({ packetId: 1, subscriptions: [{ topic: filter, qos }] }), "SUBSCRIBE");
    const deferred = this.deferredDeletes.indexOf(filter);
    if (deferred >= 0) this.deferredDeletes.splice(deferred, 1);
    this.subs.set(filter, qos, { state: 0, handler: options.handler ?? null, done: options.done ?? null });
    const later = this.unsubscribeLater.indexOf(filter);
    if (later >= 0) this.unsubscribeLater.splice(later, 1);
    if (this.state === S_CONNECTED) this.sendSubscriptions();
  }

  /** Unsubscribes from `filter`; `done` runs on UNSUBACK. */
  unsubscribe(filter: string, done?: (error: MqttError | null) => void): void {
    if (this.state === S_CLOSED) throw new MqttError(ErrorCode.Closed, "client is closed");
    validateTopicFilter(filter);
    this.fitsSendBuffer(sizeOfUnsubscribe({ packetId: 1, topics: [filter] }), "UNSUBSCRIBE");
    if (this.dispatching) this.deferredDeletes.push(filter);
    else this.subs.delete(filter);
    if (this.state === S_CONNECTED) this.sendUnsubscribe([filter], done ?? null);
    else {
      this.unsubscribeLater.push(filter);
      done?.(null);
    }
  }

  /** Sends DISCONNECT when connected and closes; no reconnect follows. Messages still queued are kept in {@link queued}. */
  close(): void {
    if (this.state === S_CLOSED) return;
    const t = this.transport;
    if (this.state === S_CONNECTED && t && this.entry < 0) {
      this.ctlStart = this.ctlEnd = 0;
      const n = encodeDisconnect(this.ctl, 0);
      t.write(this.ctl, 0, n);
    }
    this.state = S_CLOSED;
    this.direct = false;
    this.transport = null;
    this.sink = null;
    this.timer.clear();
    t?.close();
  }

  /** Refuses a control packet that could never be sent (PacketTooLarge), before anything changes. */
  private fitsSendBuffer(size: number, what: string): void {
    if (size > this.ctl.length)
      throw new MqttError(ErrorCode.PacketTooLarge, `${what} of ${size} bytes exceeds the ${this.ctl.length}-byte send buffer (sendBufferSize)`);
  }

  // ---- connection ----

  private open(): void {
    this.state = S_OPENING;
    this.decoder.reset();
    this.ctlStart = this.ctlEnd = 0;
    this.entry = -1;
    this.pingOutstanding = false;
    this.skipping = false;
    this.connackDeadline = (this.platform.now() + this.connectTimeoutMs) >>> 0;
    const sink = (this.sink = this.makeSink());
    try {
      this.transport = this.platform.connect(this.broker, sink);
    } catch (e) {
      this.transport = null;
      this.failed(new MqttError(ErrorCode.TransportError, `cannot connect to ${this.broker.host}:${this.broker.port}: ${(e as Error).message}`));
      return;
    }
    this.arm();
  }

  private onTransportConnect(): void {
    if (this.state !== S_OPENING) return;
    const n = encodeConnect(this.ctl, 0, this.connectFields);
    this.ctlStart = 0;
    this.ctlEnd = n;
    this.state = S_CONNACK;
    this.pump();
  }

  private onConnack(p: Packet): void {
    if (this.state !== S_CONNACK) return this.protocolFailure(new ProtocolError(ProtocolCode.UnexpectedPacket, "CONNACK outside the connect handshake"));
    if (p.returnCode !== 0) {
      const err = new ConnectionRefusedError(p.returnCode);
      this.closeTransport();
      this.failed(err);
      return;
    }
    this.state = S_CONNECTED;
    this.attempt = 0;
    this.counters.connects++;
    const now = this.platform.now();
    this.lastSent = this.lastReceived = this.seenAt = now;
    this.sentSeen = this.sentCount;
    this.rxSeen = this.rxCount;
    if (!p.sessionPresent) this.awaitingRelCount = 0;
    for (let i = 0; i < this.subs.size; i++) {
      const row = this.subs.at(i).value;
      if (!p.sessionPresent || row.state !== 2) row.state = 0;
    }
    this.outbox.rewind();
    this.o.onConnect?.(p.sessionPresent, this.broker);
    if (this.state !== S_CONNECTED) return; // closed from the callback
    if (this.unsubscribeLater.length) {
      const filters = this.unsubscribeLater;
      this.unsubscribeLater = [];
      this.sendUnsubscribe(filters, null);
    }
    this.sendSubscriptions();
    this.pump();
    this.arm();
  }

  /** A connection attempt failed: report it, move to the next broker, back off. */
  private failed(error: MqttError): void {
    this.o.onError?.(error);
    this.brokerIndex = (this.brokerIndex + 1) % this.o.brokers.length;
    this.retryLater();
  }

  /** The transport ended or must end. */
  private lost(error: MqttError): void {
    if (this.state === S_CLOSED || this.state === S_IDLE) return;
    const wasConnected = this.state === S_CONNECTED;
    this.closeTransport();
    if (!wasConnected) return this.failed(error);
    this.counters.connectionLosses++;
    this.o.onDisconnect?.(error);
    if (this.state === S_CLOSED) return;
    this.retryLater();
  }

  private closeTransport(): void {
    const t = this.transport;
    this.transport = null;
    this.sink = null;
    this.direct = false;
    this.entry = -1;
    this.ctlStart = this.ctlEnd = 0;
    this.pingOutstanding = false;
    if (this.state !== S_CLOSED) this.state = S_IDLE;
    t?.close();
  }

  private retryLater(): void {
    if (this.state === S_CLOSED) return;
    const base = Math.min(this.backoffMax, this.backoffMin * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    const random = this.platform.random ? this.platform.random() : Math.random();
    const delay = Math.max(0, Math.round(base * (1 - this.jitter * random)));
    this.reconnectAt = (this.platform.now() + delay) >>> 0;
    this.reconnectPending = true;
    this.arm();
  }

  private protocolFailure(error: ProtocolError): void {
    this.counters.protocolErrors++;
    if (this.state !== S_CONNECTED) {
      // a failed attempt: failed() reports it, once
      this.closeTransport();
      return this.failed(error);
    }
    this.o.onError?.(error);
    this.lost(new MqttError(ErrorCode.ProtocolError, error.message));
  }

  // ---- time ----

  /** Runs whatever is due and arms the timer for the next deadline. */
  private tick(): void {
    const now = this.platform.now();
    switch (this.state) {
      case S_IDLE:
        if (this.reconnectPending && since(now, this.reconnectAt) < 0x80000000) {
          this.reconnectPending = false;
          this.open();
          return;
        }
        break;
      case S_OPENING:
      case S_CONNACK:
        if (since(now, this.connackDeadline) < 0x80000000) {
          this.closeTransport();
          this.failed(new MqttError(ErrorCode.ConnectTimeout, `no CONNACK from ${this.broker.host}:${this.broker.port} within ${this.connectTimeoutMs} ms`));
          return;
        }
        break;
      case S_CONNECTED:
        this.catchUp(now);
        if (this.pingOutstanding) {
          if (since(now, this.pingSentAt) >= this.pingTimeoutMs) {
            this.lost(new MqttError(ErrorCode.KeepaliveTimeout, `no PINGRESP within ${this.pingTimeoutMs} ms`));
            return;
          }
        } else if (this.keepaliveMs > 0 && (since(now, this.lastSent) >= this.keepaliveMs || since(now, this.lastReceived) >= this.keepaliveMs)) {
          this.ping(now);
        }
        break;
    }
    this.arm();
  }

  /** Turns sends and arrivals counted since the last look into times: that look's. */
  private catchUp(now: number): void {
    const at = this.seenAt;
    if (this.sentCount !== this.sentSeen) {
      this.sentSeen = this.sentCount;
      if (since(at, this.lastSent) < 0x80000000) this.lastSent = at;
    }
    if (this.rxCount !== this.rxSeen) {
      this.rxSeen = this.rxCount;
      if (since(at, this.lastReceived) < 0x80000000) this.lastReceived = at;
    }
    this.seenAt = now;
  }

  private ping(now: number): void {
    if (!this.control(2)) return;
    this.ctlEnd += encodePingreq(this.ctl, this.ctlEnd);
    this.pingOutstanding = true;
    this.pingSentAt = now;
    this.pump();
  }

  /** Arms the single timer for the earliest deadline of the current state. */
  private arm(): void {
    const now = this.platform.now();
    let wait = -1;
    switch (this.state) {
      case S_IDLE:
        if (this.reconnectPending) wait = this.remaining(now, this.reconnectAt);
        break;
      case S_OPENING:
      case S_CONNACK:
        wait = this.remaining(now, this.connackDeadline);
        break;
      case S_CONNECTED:
        if (this.pingOutstanding) wait = Math.max(0, this.pingTimeoutMs - since(now, this.pingSentAt));
        else if (this.keepaliveMs > 0) {
          wait = Math.max(0, this.keepaliveMs - Math.max(since(now, this.lastSent), since(now, this.lastReceived)));
          // activity is counted, not timed: look at least every half interval
          if (wait > this.keepaliveMs / 2) wait = this.keepaliveMs / 2;
        }
        break;
    }
    if (wait < 0) this.timer.clear();
    else this.timer.set(wait);
  }

  private remaining(now: number, deadline: number): number {
    const d = (deadline - now) >>> 0;
    return d >= 0x80000000 ? 0 : d;
  }

  // ---- output ----

  /** Makes room for `n` more control bytes, or fails the connection. */
  private control(n: number): boolean {
    this.direct = false;
    if (this.ctlEnd + n <= this.ctl.length) return true;
    this.pump(); // a burst of acks: write out what is waiting first
    if (this.ctlEnd + n <= this.ctl.length) return true;
    if (this.ctlStart > 0) {
      this.ctl.copyWithin(0, this.ctlStart, this.ctlEnd);
      this.ctlEnd -= this.ctlStart;
      this.ctlStart = 0;
      if (this.ctlEnd + n <= this.ctl.length) return true;
    }
    this.lost(new MqttError(ErrorCode.BufferTooSmall, `send buffer of ${this.ctl.length} bytes is full; the connection cannot keep up`));
    return false;
  }

  private ack(type: number, id: number): void {
    if (!this.control(4)) return;
    this.ctlEnd += encodeAck(this.ctl, this.ctlEnd, type, id);
  }

  /**
   * Writes what is waiting, in order: the rest of a partly written packet, control
   * packets, then outbox entries while the window allows. Stops when the transport takes
   * less than offered and resumes on `onWritable`.
   */
  private pump(): void {
    const t = this.transport;
    if (this.pumping || !t) return;
    this.pumping = true;
    this.direct = false;
    let wrote = false;
    const box = this.outbox;
    const ring = box.ring;
    for (;;) {
      if (this.entry >= 0) {
        const end = this.entry + box.sizeAt(this.entry);
        const n = t.write(ring, this.entryPos, end);
        if (n > 0) wrote = true;
        this.entryPos += n;
        if (this.entryPos < end) break;
        const token = box.written(this.entry);
        this.entry = -1;
        if (token >= 0) this.delivered(token); // QoS 0: done once written
        continue;
      }
      if (this.ctlEnd > this.ctlStart) {
        const n = t.write(this.ctl, this.ctlStart, this.ctlEnd);
        if (n > 0) wrote = true;
        this.ctlStart += n;
        if (this.ctlStart < this.ctlEnd) break;
        this.ctlStart = this.ctlEnd = 0;
        continue;
      }
      if (this.state !== S_CONNECTED) break;
      const at = box.next();
      if (at < 0) break;
      if (box.isResend(at)) {
        ring[at] |= 0x08; // DUP (§3.3.1.1)
        this.counters.resent++;
      } else if (box.qosAt(at) > 0) {
        const id = this.nextId();
        const idAt = idOffset(ring, at);
        ring[idAt] = id >> 8;
        ring[idAt + 1] = id & 0xff;
        box.assign(at, id);
      }
      this.entry = at;
      this.entryPos = at;
    }
    this.pumping = false;
    if (wrote) this.sentCount++;
    this.direct = this.state === S_CONNECTED && this.entry < 0 && this.ctlEnd === this.ctlStart && box.idle();
  }

  private delivered(token: number): void {
    this.counters.delivered++;
    this.o.onDelivered?.(token);
  }

  /** Next free packet id: skips ids in flight, never 0, wraps 65535 → 1. */
  private nextId(): number {
    for (;;) {
      const id = (this.lastId = this.lastId >= 65535 ? 1 : this.lastId + 1);
      if (!this.outbox.holds(id) && !this.pending.has(id)) return id;
    }
  }

  private sendSubscriptions(): void {
    const subscriptions: { topic: string; qos: number }[] = [];
    for (let i = 0; i < this.subs.size; i++) {
      const row = this.subs.at(i);
      if (row.value.state === 0) subscriptions.push({ topic: row.filter, qos: row.qos });
    }
    if (subscriptions.length === 0) return;
    // one SUBSCRIBE per batch that fits the send buffer
    let batch: { topic: string; qos: number }[] = [];
    const flush = () => {
      if (batch.length === 0) return;
      const id = this.nextId();
      const f = { packetId: id, subscriptions: batch };
      const size = sizeOfSubscribe(f);
      if (!this.control(size)) return;
      this.ctlEnd += encodeSubscribe(this.ctl, this.ctlEnd, f);
      this.pending.set(id, { type: T.SUBSCRIBE, filters: batch.map((s) => s.topic), done: null });
      for (const s of batch) this.subs.get(s.topic)!.value.state = 1;
      batch = [];
    };
    for (const s of subscriptions) {
      const next = [...batch, s];
      if (batch.length > 0 && sizeOfSubscribe({ packetId: 1, subscriptions: next }) > this.ctl.length / 2) flush();
      batch.push(s);
    }
    flush();
    this.pump();
  }

  private sendUnsubscribe(filters: string[], done: ((error: MqttError | null) => void) | null): void {
    const id = this.nextId();
    const f = { packetId: id, topics: filters };
    if (!this.control(sizeOfUnsubscribe(f))) return;
    this.ctlEnd += encodeUnsubscribe(this.ctl, this.ctlEnd, f);
    this.pending.set(id, { type: T.UNSUBSCRIBE, filters, done });
    this.pump();
  }

  /** The head of `topic`: from the cache, or validated, encoded and remembered. */
  private topicHead(topic: string): TopicHead {
    let th = this.topics.get(topic);
    if (th === undefined) {
      th = new TopicHead(topic); // throws InvalidTopic
      if (this.topics.size >= (this.o.topicCache ?? 16)) this.topics.clear();
      this.topics.set(topic, th);
    }
    return th;
  }

  // ---- input ----

  private onData(data: Uint8Array, start: number, end: number): void {
    this.rxCount++;
    try {
      this.decoder.push(data, start, end);
    } catch (e) {
      if (e instanceof ProtocolError) return this.protocolFailure(e);
      throw e;
    }
    if (this.ctlEnd > this.ctlStart) this.pump();
  }

  /** @internal The decoder's handler. */
  onPacket(p: Packet): void {
    if (this.state !== S_CONNECTED && p.type !== T.CONNACK) {
      if (this.state === S_CONNACK)
        return this.protocolFailure(new ProtocolError(ProtocolCode.UnexpectedPacket, `${PacketName[p.type]} before CONNACK`));
      return;
    }
    switch (p.type) {
      case T.PUBLISH:
        return this.onPublish(this.message); // p is the message: the decoder fills it
      case T.PUBACK: {
        const token = this.outbox.ack(p.packetId);
        if (token >= 0) this.delivered(token);
        else if (token !== ACKED_AFTER_DROP) this.counters.unknownAcks++;
        this.pump(); // a window slot came free
        return;
      }
      case T.CONNACK:
        return this.onConnack(p);
      case T.PINGRESP:
        this.pingOutstanding = false;
        this.lastSent = this.platform.now(); // next PINGREQ one interval after this PINGRESP
        return;
      case T.PUBREC:
        // this client sends no QoS 2; answer anyway so the broker's session never stalls
        return this.ack(T.PUBREL, p.packetId);
      case T.PUBREL:
        this.released(p.packetId);
        return this.ack(T.PUBCOMP, p.packetId);
      case T.PUBCOMP:
        return;
      case T.SUBACK:
      case T.UNSUBACK:
        return this.onRequestAck(p);
      default:
        return this.protocolFailure(new ProtocolError(ProtocolCode.UnexpectedPacket, `a broker does not send ${PacketName[p.type]}`));
    }
  }

  private onPublish(m: Message): void {
    if (m.payloadOffset === 0) {
      // a whole message, or the first fragment of one
      this.skipping = false;
      if (m.more && this.o.oversize === "drop") {
        this.skipping = true;
        this.counters.droppedInbound++;
        this.o.onDrop?.("oversize", m.packetId);
      } else if (m.qos === 2 && this.awaiting(m.packetId)) {
        this.skipping = true;
        this.counters.duplicatesInbound++;
      }
    }
    if (!this.skipping) {
      const subs = this.subs;
      const slot = m.topicSlot;
      let count = -1;
      let at = 0;
      if (slot >= 0) {
        if (this.routeKey[slot] !== this.topicKeys[slot] || this.routeGen[slot] !== subs.generation) this.route(m, slot);
        count = this.routeCount[slot];
        at = slot * ROUTE_MAX;
      }
      this.dispatching = true;
      if (count >= 0) {
        // the rows this topic matched last time, the table unchanged since
        const rows = this.routeRows;
        for (let k = 0; k < count; k++) {
          const h = subs.at(rows[at + k]).value.handler;
          if (h !== null)
            try {
              h(m);
            } catch (e) {
              this.handlerFailed(e);
            }
        }
      } else {
        for (let i = subs.next(m.data, m.topicStart, m.topicLength, 0); i >= 0; i = subs.next(m.data, m.topicStart, m.topicLength, i + 1)) {
          const h = subs.at(i).value.handler;
          if (h !== null)
            try {
              h(m);
            } catch (e) {
              this.handlerFailed(e);
            }
        }
      }
      this.dispatching = false;
      if (this.deferredDeletes.length > 0) {
        for (const f of this.deferredDeletes) this.subs.delete(f);
        this.deferredDeletes.length = 0;
      }
      const all = this.o.onMessage;
      if (all)
        try {
          all(m);
        } catch (e) {
          this.handlerFailed(e);
        }
    }
    if (m.more) return;
    if (!this.skipping) this.counters.received++;
    const qos = m.qos;
    if (qos === 1) this.ack(T.PUBACK, m.packetId);
    else if (qos === 2) {
      if (!this.awaiting(m.packetId) && this.awaitingRelCount < this.awaitingRel.length) this.awaitingRel[this.awaitingRelCount++] = m.packetId;
      this.ack(T.PUBREC, m.packetId);
    }
  }

  /** Finds the subscriptions a received topic matches and remembers them in its cache slot. */
  private route(m: Message, slot: number): void {
    const subs = this.subs;
    const rows = this.routeRows;
    const at = slot * ROUTE_MAX;
    let n = 0;
    for (let i = subs.next(m.data, m.topicStart, m.topicLength, 0); i >= 0; i = subs.next(m.data, m.topicStart, m.topicLength, i + 1)) {
      if (n === ROUTE_MAX) {
        n = -1; // too many to keep: matched every time
        break;
      }
      rows[at + n++] = i;
    }
    this.routeCount[slot] = n;
    this.routeKey[slot] = this.topicKeys[slot];
    this.routeGen[slot] = subs.generation;
  }

  /** An application handler threw: reported, never allowed to break the session. */
  private handlerFailed(e: unknown): void {
    this.o.onError?.(new MqttError(ErrorCode.InvalidArgument, `message handler threw: ${(e as Error)?.message ?? e}`));
  }

  private awaiting(id: number): boolean {
    for (let k = 0; k < this.awaitingRelCount; k++) if (this.awaitingRel[k] === id) return true;
    return false;
  }

  private released(id: number): void {
    for (let k = 0; k < this.awaitingRelCount; k++)
      if (this.awaitingRel[k] === id) {
        this.awaitingRel[k] = this.awaitingRel[--this.awaitingRelCount];
        return;
      }
  }

  private onRequestAck(p: Packet): void {
    const req = this.pending.get(p.packetId);
    if (!req) return;
    this.pending.delete(p.packetId);
    if (p.type === T.UNSUBACK) {
      req.done?.(null);
      return;
    }
    const n = p.payloadEnd - p.payloadStart;
    for (let i = 0; i < req.filters.length; i++) {
      const filter = req.filters[i];
      const code = i < n ? p.data[p.payloadStart + i] : 0x80;
      const entry = this.subs.get(filter);
      if (!entry) continue;
      const row = entry.value;
      const done = row.done;
      row.done = null;
      if (code === 0x80) {
        this.subs.delete(filter);
        const err = new MqttError(ErrorCode.SubscriptionRefused, `broker refused the subscription to ${filter}`);
        this.o.onError?.(err);
        done?.(err, 0x80);
      } else {
        row.state = 2;
        done?.(null, code);
      }
    }
  }
}

/** Offset of a QoS 1/2 PUBLISH's packet id in `ring`, the packet starting at `at`. */
function idOffset(ring: Uint8Array, at: number): number {
  let p = at + 1;
  while (ring[p] & 0x80) p++;
  p++;
  return p + 2 + ((ring[p] << 8) | ring[p + 1]);
}
