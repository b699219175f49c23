/**
 * The MQTT client, 3.1.1 or (`protocolVersion: 5`) 5.0: QoS 0, 1 and 2 out and in, a fixed in-flight window, DUP
 * resend after reconnect, keepalive with a PINGRESP deadline, reconnect with backoff and
 * jitter across a list of brokers, a bounded offline queue, and wildcard dispatch.
 *
 * This file is the hot path, kept in one object: `publish` → `Transport.writePacket` (or
 * the outbox and `pump`), and `onData` → decoder → dispatch. The cold concerns live beside
 * it: options and defaults (options.ts), publish topic headers (topic-head.ts),
 * subscriptions (subscriptions.ts), the connection lifecycle and backoff (connection.ts),
 * deadlines (deadlines.ts), inbound routes and QoS 2 state (inbound.ts).
 *
 * All memory is allocated at construction from the options: the receive buffer, the
 * control send buffer, the outbox ring and its window slots. Publishing and receiving
 * allocate nothing in steady state. The client reaches the world only through a
 * {@link Platform}; nothing here names Node or Moddable.
 *
 * Under MQTT 5 the same paths carry a Property Length of 0 in each PUBLISH; the CONNACK's
 * limits (Receive Maximum, Maximum QoS, Retain Available, Maximum Packet Size, Server Keep
 * Alive, Assigned Client Identifier) bind each connection; a failure reason code on an ack
 * ends that message or filter (reported, counted, not retried); a server DISCONNECT is
 * surfaced with its reason. AUTH is not supported: one from the broker is a protocol error.
 */
import { backoffDelay, Brokers, ConnState as S } from "./connection.js";
import { Deadlines, Due } from "./deadlines.js";
import { Decoder, type PacketHandler } from "./decode.js";
import {
  encodeAck,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodeSubscribe,
  encodeUnsubscribe,
  header,
  measurePublish,
  packetSize,
  sizeOfConnect,
  sizeOfSubscribe,
  sizeOfUnsubscribe,
  writePublish,
  type Bytes,
  type PublishFields,
  type PublishSize,
} from "./encode.js";
import { encodeAck5, encodeConnect5, encodeList5, type Subscription5, encodePublish5, encodeReason5, sizeOfConnect5, sizeOfList5, sizeOfPublish5, type Connect5Fields, type PropertiesFields } from "./encode5.js";
import { ConnectionRefusedError, disconnectIsGoAway, ErrorCode, MqttError, ProtocolCode, ProtocolError, ReasonCodeError, refusalIsPermanent } from "./errors.js";
import { InboundQos2, makeRoute, ROUTE_STRIDE, routeTable, routeTableBytes } from "./inbound.js";
import { Message } from "./message.js";
import { DEFAULTS, resolveOptions, type ClientOptions, type ClientStats, type MessageHandler, type PublishOptions, type ServerLimits, type SubscribeOptions } from "./options.js";
import { ACKED_AFTER_DROP, AWAITING_ACK, ENTRY_HEADER, NO_HEAD, NONE, Outbox, UNKNOWN_ID, WRONG_QOS } from "./outbox.js";
import { Prop, PROP_TYPE, PropertyCursor, type Properties, valueSize } from "./properties.js";
import { Reason, reasonAllowed, reasonName } from "./reasons.js";
import { FIRST_BYTE, PacketType as T, PacketName, PUBLISH_DUP, PUBLISH_RETAIN, type Packet } from "./packet.js";
import type { BrokerAddress, Platform, Timer, Transport, TransportSink } from "./platform.js";
import { Subscriptions, type UnsubscribeDone } from "./subscriptions.js";
import { validateTopicFilter } from "./topic.js";
import { TopicHead } from "./topic-head.js";
import { utf8Length } from "./utf8.js";

export type { ClientOptions, ClientStats, DropReason, MessageHandler, PublishOptions, QueuePolicy, ServerLimits, SubscribeOptions } from "./options.js";

/** `stats.published`: the client's token count, so a publish counts once. */
function published(this: { owner: MqttClient }): number {
  return this.owner.issued;
}

/**
 * The counters behind {@link MqttClient.stats}. `published` is an own enumerable getter (so
 * the stats spread and serialize whole) over the client's token count, made from one
 * module-level function: no closure per client.
 */
class Counters {
  declare readonly published: number;
  delivered = 0;
  received = 0;
  refused = 0;
  dropped = 0;
  resent = 0;
  droppedInbound = 0;
  duplicatesInbound = 0;
  unknownAcks = 0;
  connects = 0;
  connectionLosses = 0;
  protocolErrors = 0;
  handlerErrors = 0;
  releasedWithoutSession = 0;
  refusedByBroker = 0;
  republished = 0;
  expired = 0;
  qos2AsQos1 = 0;
  subscriptionsRefused = 0;
  constructor(owner: MqttClient) {
    Object.defineProperty(this, "owner", { value: owner });
    Object.defineProperty(this, "published", { get: published, enumerable: true });
  }
}

/**
 * The events of one connection attempt. A transport given up is a sink given up (`live`
 * false), so its late events are ignored. Methods on the prototype: one small object per
 * attempt.
 */
class Sink implements TransportSink {
  private readonly client: MqttClient;
  live = true;
  constructor(client: MqttClient) {
    this.client = client;
  }
  onConnect(): void {
    if (this.live) this.client.sinkConnect();
  }
  onData(data: Uint8Array, start: number, end: number): void {
    if (this.live) this.client.sinkData(data, start, end);
  }
  onWritable(): void {
    if (this.live) this.client.sinkWritable();
  }
  onClose(reason: string | null): void {
    if (this.live) this.client.sinkClose(reason);
  }
}

const Q0: PublishOptions = Object.freeze({ qos: 0 });
/** A backoff attempt number past backoffDelay's cap: the longest wait. */
const LONGEST = 30;
const PUBLISH0 = FIRST_BYTE[T.PUBLISH];
/** Message Expiry Intervals the wrapping millisecond clock can time (longer ones are never timed out here). */
const EXPIRY_MAX_S = 2147483;

export class MqttClient {
  // Fields in the order the hot paths read them: XS finds an own property by walking the
  // object's property list, so the first ones cost least (the order is measured, see
  // `npm run bench:e2e`).
  /**
   * Connected with nothing waiting to be written (no control bytes, no partly written
   * entry, nothing queued in the outbox): a QoS 0 publish may go straight to the
   * transport. Set by pump() when it runs dry; cleared by everything that adds work.
   */
  private direct = false;
  /** Publish topics by string. */
  private readonly topics = new Map<string, TopicHead>();
  private transport: Transport | null = null;
  /** Packets sent and chunks received: counted on the hot paths, turned into times by {@link tick}. */
  private sentCount = 0;
  /** @internal Publishes accepted: `stats.published`, and the source of tokens. */
  issued = 0;
  /** Counters; each drop or refusal is counted here and reported through a callback. */
  readonly stats: ClientStats = new Counters(this);
  private readonly o: ClientOptions;
  private sink: Sink | null = null;
  private rxCount = 0;
  private readonly decoder: Decoder;
  /** The control send buffer (CONNECT, SUBSCRIBE, acks, PINGREQ), written from ctlStart to ctlEnd. */
  private ctlStart = 0;
  private ctlEnd = 0;
  private state: number = S.Idle;
  /** Inbound: the current message is an oversize one being dropped, or a QoS 2 duplicate. */
  private skipping = false;
  private readonly subs = new Subscriptions();
  /** Per inbound topic cache slot, the subscription rows its topic matches (inbound.ts). */
  private readonly routes: Int32Array;
  /** The decoder's topic cache keys: a slot's key changes whenever it takes another topic. */
  private readonly topicKeys: Uint32Array;
  /** Largest PUBLISH sent: ours (maxPacketSize, the outbox), or an MQTT 5 broker's Maximum Packet Size when smaller. */
  private maxPacket: number;
  /** Sizes of the PUBLISH being measured. */
  private readonly size: PublishSize = { remaining: 0, total: 0 };
  private readonly message = new Message();
  private readonly inboundQos2: InboundQos2;
  private readonly ctl: Uint8Array;
  private readonly outbox: Outbox;
  /** The outbox entry being written, and how far. */
  private entry = NONE;
  private entryPos = 0;
  private pumping = false;
  /** sendSubscriptions is refusing filters the broker does not support (their callbacks may subscribe). */
  private refusingSubs = false;
  /** The PUBLISH being queued; its packet id is written when it is first sent. */
  private readonly fields: PublishFields = { topic: "", topicBytes: null, payload: "", qos: 0, retain: false, dup: false, packetId: 1 };
  private lastId = 0;
  private readonly topicLimit: number;
  private readonly platform: Platform;
  private readonly timer: Timer;
  private readonly deadlines: Deadlines;
  private readonly brokers: Brokers;
  private readonly backoffMin: number;
  private readonly backoffMax: number;
  private readonly jitter: number;
  /** MQTT 5. */
  private readonly v5: boolean;
  /** Our own PUBLISH size limit, before a broker's. */
  private readonly ownMaxPacket: number;
  private readonly window: number;
  private readonly keepaliveS: number;
  private readonly pingTimeoutMs: number;
  /** The MQTT 5 broker's limits from the last CONNACK (null before one, and under 3.1.1). */
  private limits: ServerLimits | null = null;
  /** The limits forbid something an outbox entry may hold: pump checks each entry it sends. */
  private checkLimits = false;
  private maxQoS = 2;
  private retainOk = true;
  /** An MQTT 5 broker's Assigned Client Identifier, sent in later CONNECTs. */
  private assignedId: string | null = null;
  /** Publish topic heads by their index, for outbox entries to name theirs. */
  private readonly headList: TopicHead[] = [];
  /**
   * MQTT 5 outbound Topic Aliases: in use on this connection (the broker announced some and
   * we use some), the number of this connection's mappings (a head's alias counts only
   * when its `aliasGen` is this), the next free alias and the last one we may use.
   */
  private aliasing = false;
  private aliasGen = 0;
  private aliasNext = 1;
  private aliasMax = 0;
  private readonly ownAliases: number;
  /**
   * The outbox entry being written under an alias chosen at send time goes out in four
   * parts: aliasHead[parts[0], parts[1]), the ring's [parts[2], parts[3]), aliasHead[parts[4],
   * parts[5]), the ring's [parts[6], parts[7]). `part` is the one being written, -1 when
   * the entry goes as stored.
   */
  private readonly aliasHead: Uint8Array;
  private readonly parts: Int32Array;
  private part = -1;
  /** An outbox entry carries a Message Expiry Interval: pump looks at each entry's deadline. */
  private expiring = false;
  /**
   * MQTT 5 inbound Topic Aliases: the Topic Alias Maximum we announce (0: none), and per
   * alias a, its topic's bytes at inAliasTopics[(a - 1) * inTopicCap...] and in
   * inAliasMeta[(a - 1) * 3...] its length (-1 when not set on this connection, -2 when
   * longer than we keep), the topic cache slot it had and that slot's key then.
   */
  private readonly inAliases: number;
  /** MQTT 5: the Maximum Packet Size we announce (maxInboundPacketSize), 0 when none; a larger PUBLISH is a protocol error (0x95). */
  private readonly inMax: number;
  /** inMax or inAliases is set: an inbound PUBLISH is checked against them. */
  private readonly inChecks: boolean;
  private readonly inTopicCap: number;
  private readonly inAliasTopics: Uint8Array;
  private readonly inAliasMeta: Int32Array;
  /** Walks a message's Subscription Identifiers when it carries more than one. */
  private readonly sidCursor = new PropertyCursor();

  /** Throws `InvalidArgument` (options out of range, no brokers) and what `sizeOfConnect` throws for the CONNECT fields. */
  constructor(options: ClientOptions, platform: Platform) {
    const s = resolveOptions(options);
    this.o = options;
    this.platform = platform;
    this.brokers = new Brokers(options.brokers);
    this.deadlines = new Deadlines(s.keepaliveMs, s.pingTimeoutMs, s.connectTimeoutMs);
    this.backoffMin = s.backoffMin;
    this.backoffMax = s.backoffMax;
    this.jitter = s.jitter;
    this.v5 = s.protocolVersion === 5;
    this.window = s.inflightWindow;
    this.keepaliveS = s.keepalive;
    this.pingTimeoutMs = s.pingTimeoutMs;
    if (
      !this.v5 &&
      (options.sessionExpiry !== undefined || options.maxInboundPacketSize !== undefined || options.requestProblemInformation !== undefined || options.will?.properties || options.connectUserProperties)
    )
      throw new MqttError(ErrorCode.InvalidArgument, "sessionExpiry, maxInboundPacketSize, requestProblemInformation, connectUserProperties and will properties need protocolVersion 5");
    const cf = this.connectFields();
    const connectSize = this.v5 ? sizeOfConnect5(cf) : sizeOfConnect(cf); // validates the options
    this.ctl = new Uint8Array(Math.max(s.sendBufferSize, connectSize, 64));
    this.inAliases = this.v5 ? Math.min(s.inboundTopicAliases, 65535) : 0;
    this.inTopicCap = s.inboundTopicLength;
    this.inMax = this.v5 ? (options.maxInboundPacketSize ?? 0) : 0;
    this.inChecks = this.inMax > 0 || this.inAliases > 0;
    this.inAliasTopics = new Uint8Array(this.inAliases * this.inTopicCap);
    this.inAliasMeta = new Int32Array(this.inAliases * 3).fill(-1);
    this.decoder = new Decoder(s.receiveBufferSize, this as PacketHandler, {
      packet: this.message,
      topicCache: s.inboundTopics,
      topicCacheLength: s.inboundTopicLength,
      protocolVersion: s.protocolVersion,
      // an alias above the maximum we announce breaks the protocol (0x94)
      topicAliasMaximum: this.inAliases,
    });
    this.topicKeys = this.decoder.topics === null ? new Uint32Array(0) : this.decoder.topics.keys;
    // the route table and the inbound QoS 2 ids share one buffer
    const routeBytes = routeTableBytes(s.inboundTopics);
    const inbound = new ArrayBuffer(routeBytes + s.inboundQos2 * 2);
    this.routes = routeTable(inbound, 0, s.inboundTopics);
    this.inboundQos2 = new InboundQos2(inbound, routeBytes, s.inboundQos2);
    this.outbox = new Outbox(s.outboxBytes, s.inflightWindow);
    this.maxPacket = this.ownMaxPacket = Math.min(options.maxPacketSize ?? s.outboxBytes, s.outboxBytes - ENTRY_HEADER);
    this.topicLimit = Math.min(s.topicCache, NO_HEAD);
    this.ownAliases = this.v5 ? Math.min(s.topicAliases, 65535) : 0;
    this.aliasHead = new Uint8Array(this.ownAliases > 0 ? 16 : 0);
    this.parts = new Int32Array(this.ownAliases > 0 ? 8 : 0);
    this.timer = platform.timer(() => this.tick(this.platform.now()));
  }

  /** The CONNECT fields; made per connection attempt, so the client holds no copy at rest. */
  private connectFields(): Connect5Fields {
    const o = this.o;
    const f: Connect5Fields = {
      clientId: o.clientId === "" && this.assignedId !== null ? this.assignedId : o.clientId,
      clean: o.clean ?? DEFAULTS.clean,
      keepalive: this.keepaliveS,
      will: o.will ?? null,
      username: o.username ?? null,
      password: o.password ?? null,
    };
    if (this.v5) {
      const p: PropertiesFields = { receiveMaximum: o.inboundQos2 ?? DEFAULTS.inboundQos2 };
      if (o.sessionExpiry) p.sessionExpiryInterval = o.sessionExpiry;
      if (o.maxInboundPacketSize !== undefined) p.maximumPacketSize = o.maxInboundPacketSize;
      if (o.requestProblemInformation === false) p.requestProblemInformation = 0;
      if (this.inAliases > 0) p.topicAliasMaximum = this.inAliases;
      if (o.connectUserProperties) p.userProperties = o.connectUserProperties;
      f.properties = p;
    }
    return f;
  }

  /** The MQTT 5 broker's limits from the last CONNACK; null under 3.1.1 and before the first. */
  get server(): ServerLimits | null {
    return this.limits;
  }

  /** The MQTT version this client speaks: 4 (3.1.1) or 5 (5.0). */
  get protocolVersion(): 4 | 5 {
    return this.v5 ? 5 : 4;
  }

  /** Connected and past CONNACK. */
  get connected(): boolean {
    return this.state === S.Connected;
  }

  /** The broker in use or being tried. */
  get broker(): BrokerAddress {
    return this.brokers.current;
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
    if (this.state === S.Closed) throw new MqttError(ErrorCode.Closed, "client is closed");
    if (this.state !== S.Idle || this.transport) return;
    this.open(this.platform.now());
  }

  /**
   * Queues a PUBLISH and sends it when it can. Returns a token that `onDelivered` reports
   * when the message is done (QoS 0 written, QoS 1 PUBACK, QoS 2 PUBCOMP). Throws
   * {@link MqttError}: `InvalidTopic`, `InvalidQoS`, `InvalidString`, `PacketTooLarge`,
   * `QueueFull`, `Closed`.
   * Nothing is sent when it throws.
   */
  publish(topic: string, payload: Bytes, options: PublishOptions = Q0): number {
    if (this.direct && payload?.constructor === Uint8Array) {
      // connected and nothing waits ahead of it: a QoS 0 message goes to the transport as it is
      let first = PUBLISH0;
      if (options !== Q0) {
        const qos = options.qos;
        if ((qos !== 0 && qos !== undefined) || options.properties != null) return this.enqueue(topic, payload, options);
        if (options.retain === true) {
          if (!this.retainOk) return this.enqueue(topic, payload, options); // refused there
          first = PUBLISH0 | PUBLISH_RETAIN;
        }
      }
      let th = this.topics.get(topic);
      if (th === undefined) th = this.headOf(topic); // throws InvalidTopic
      const n = (payload as Uint8Array).length;
      // th.head is the head to write on this connection once made for n bytes (th.payload);
      // otherwise it is made for n, under MQTT 5 Topic Aliases by the rules of aliasedHead
      if (n === th.payload || (this.aliasing ? this.aliasedHead(th, n) : th.prepare(n, this.maxPacket, this.size))) {
        const head = th.head;
        head[0] = first;
        // (inline, not a call: a call costs XS more than these lines)
        if (this.transport!.writePacket(head, payload as Uint8Array)) {
          this.sentCount++;
          const token = ++this.issued >>> 0;
          this.stats.delivered++;
          const done = this.o.onDelivered;
          if (done) done(token);
          return token;
        }
      }
    }
    return this.enqueue(topic, payload, options);
  }

  /**
   * MQTT 5 Topic Aliases on the direct QoS 0 path: makes `th.head` right for `n` bytes on
   * this connection and returns true, or returns false for the outbox to take the message.
   * A topic's first publish on a connection goes whole, and leaves `th.payload` at -1 so the
   * next one comes back here; that one goes through the outbox, where pump sends topic and
   * alias and so makes the mapping (chooseAlias); from then on the head is the short one,
   * with an empty topic and the alias. With no alias free the topic goes whole from then on.
   */
  private aliasedHead(th: TopicHead, n: number): boolean {
    const gen = this.aliasGen;
    if (th.aliasGen !== gen) {
      th.aliasGen = gen;
      th.alias = 0;
    } else if (th.alias > 0) return th.prepareShort(n, this.maxPacket, this.size); // the alias names it on this connection
    else if (th.alias === 0) {
      if (this.aliasNext <= this.aliasMax) {
        this.direct = false; // through pump, which sends topic and alias
        return false;
      }
      th.alias = -1;
    }
    if (!th.prepare(n, this.maxPacket, this.size)) return false;
    if (th.alias === 0) th.payload = -1;
    return true;
  }

  /** Publishes through the outbox: queued, encoded there, and sent in order when it can be. */
  private enqueue(topic: string, payload: Bytes, options: PublishOptions): number {
    if (this.state === S.Closed) throw new MqttError(ErrorCode.Closed, "client is closed");
    const qos = options.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new MqttError(ErrorCode.InvalidQoS, `publish QoS must be 0, 1 or 2, not ${qos}`);
    const th = this.headOf(topic); // throws InvalidTopic (before anything is queued)
    const topicBytes = th.bytes;
    const retain = options.retain === true;
    const props = options.properties ?? null;
    if (this.v5) {
      if (qos > this.maxQoS || (retain && !this.retainOk)) {
        this.stats.refused++;
        throw new MqttError(
          ErrorCode.NotSupported,
          qos > this.maxQoS ? `the broker's Maximum QoS is ${this.maxQoS}; a QoS ${qos} publish is refused` : "the broker does not support retained messages (Retain Available 0)",
        );
      }
      if (props !== null && props.topicAlias != null)
        throw new MqttError(ErrorCode.InvalidArgument, "the client chooses Topic Aliases itself (option topicAliases); a publish may not set one");
    } else if (props !== null) throw new MqttError(ErrorCode.InvalidArgument, "publish properties need protocolVersion 5");
    let payloadLength: number;
    if (payload instanceof Uint8Array) payloadLength = payload.length;
    else if (typeof payload === "string") {
      payloadLength = utf8Length(payload);
      if (payloadLength < 0) throw new MqttError(ErrorCode.InvalidString, "payload string is not sendable UTF-8 (lone surrogate or U+0000)");
    } else throw new MqttError(ErrorCode.InvalidArgument, "payload must be a Uint8Array or a string");
    // MQTT 5: the property block goes before the payload (1 byte when empty); sizeOfPublish5 checks given properties
    const withProps = props === null ? null : { topic, topicBytes, payload, qos, retain, dup: false, packetId: 1, properties: props };
    const size = withProps === null ? measurePublish(this.size, topicBytes.length, qos, this.v5 ? payloadLength + 1 : payloadLength) : sizeOfPublish5(withProps);
    const c = this.stats;
    if (size > this.maxPacket) {
      c.refused++;
      throw new MqttError(ErrorCode.PacketTooLarge, `PUBLISH of ${size} bytes exceeds the ${this.maxPacket}-byte limit`);
    }
    const f = this.fields;
    f.topicBytes = topicBytes;
    f.payload = payload;
    f.qos = qos;
    f.retain = retain;
    const box = this.outbox;
    let at = box.reserve(size);
    while (at === NONE) {
      const oldest = box.oldest(); // released QoS 2 messages hold no ring bytes and are never dropped
      if (this.o.queuePolicy !== "drop-oldest" || oldest === NONE || oldest === this.entry) {
        c.refused++;
        throw new MqttError(ErrorCode.QueueFull, `outbox full (${box.count} messages, ${box.used} bytes)`);
      }
      const dropped = box.dropOldest();
      c.dropped++;
      this.o.onDrop?.("queue-full", dropped);
      at = box.reserve(size);
    }
    const ring = box.ring;
    if (withProps === null) writePublish(ring, at, f, this.size.remaining, this.v5);
    else encodePublish5(ring, at, withProps);
    const token = ++this.issued >>> 0;
    // MQTT 5 Message Expiry: a message still queued past it is dropped (pump)
    const expiry = props === null ? null : props.messageExpiryInterval;
    const expires = expiry != null && expiry <= EXPIRY_MAX_S;
    if (expires) this.expiring = true;
    const deadline = expires ? this.platform.now() + expiry * 1000 : 0;
    const headIndex = th.index < NO_HEAD ? th.index : NO_HEAD;
    if (qos === 0 && this.direct && !this.aliasing) {
      // nothing ahead of it (a string payload, or one writePacket refused): write it from
      // where it was encoded; the outbox keeps it only if the transport takes part
      // (under Topic Aliases it goes through pump, which chooses its alias)
      const n = this.transport!.write(ring, at, at + size);
      if (n > 0) this.sentCount++;
      if (n === size) {
        this.delivered(token);
        return token;
      }
      this.direct = false;
      box.commit(at, size, 0, token, headIndex, expires, deadline);
      this.entry = box.next();
      this.entryPos = at + n;
      return token;
    }
    this.direct = false;
    box.commit(at, size, qos, token, headIndex, expires, deadline);
    if (this.state === S.Connected) this.pump();
    return token;
  }

  /** The head of publish topic `topic`, made and listed when new (the list emptied first when full). Throws `InvalidTopic`. */
  private headOf(topic: string): TopicHead {
    const heads = this.topics;
    let th = heads.get(topic);
    if (th === undefined) {
      th = new TopicHead(topic, this.v5); // throws InvalidTopic
      if (heads.size >= this.topicLimit) {
        heads.clear();
        // the heads the outbox named are gone: its entries go with their topics as stored;
        // the new heads make their alias mappings again from alias 1
        this.outbox.forgetHeads();
        this.aliasGen++;
        this.aliasNext = 1;
      }
      th.index = heads.size;
      this.headList[th.index] = th;
      heads.set(topic, th);
    }
    return th;
  }

  /**
   * Subscribes to `filter` (validated; throws `InvalidTopicFilter`, `InvalidQoS`,
   * `PacketTooLarge`). Sent now when connected, else at the next connection; restored
   * after any reconnect that finds no session.
   */
  subscribe(filter: string, options: SubscribeOptions = {}): void {
    if (this.state === S.Closed) throw new MqttError(ErrorCode.Closed, "client is closed");
    const qos = options.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new MqttError(ErrorCode.InvalidQoS, `subscription QoS must be 0, 1 or 2, not ${qos}`);
    validateTopicFilter(filter);
    const sub = { topic: filter, qos, nl: options.nl === true, rap: options.rap === true, rh: options.rh ?? 0 };
    if (!this.v5 && (sub.nl || sub.rap || sub.rh !== 0)) throw new MqttError(ErrorCode.InvalidArgument, "subscription options nl, rap and rh need protocolVersion 5");
    this.fitsSendBuffer(this.sizeOfSubscribe([sub]), "SUBSCRIBE"); // checks the options too
    this.subs.add(filter, qos, options.handler ?? null, options.done ?? null, options.known === true, sub);
    if (this.state === S.Connected) this.sendSubscriptions();
  }

  /**
   * Unsubscribes from `filter`: its handler stops at once; `done` runs on UNSUBACK (at the
   * next connection when not connected now).
   */
  unsubscribe(filter: string, done?: UnsubscribeDone): void {
    if (this.state === S.Closed) throw new MqttError(ErrorCode.Closed, "client is closed");
    validateTopicFilter(filter);
    this.fitsSendBuffer(this.v5 ? sizeOfList5(T.UNSUBSCRIBE, { packetId: 1, topics: [filter] }) : sizeOfUnsubscribe({ packetId: 1, topics: [filter] }), "UNSUBSCRIBE");
    const connected = this.state === S.Connected;
    this.subs.remove(filter, connected, done ?? null);
    if (connected) this.sendUnsubscribe([filter], done ?? null);
  }

  /**
   * Closes; no reconnect follows. When connected it first writes what it owes the broker:
   * the rest of a packet being written and the acks queued (PUBACK, PUBREC, PUBCOMP,
   * PUBREL), then DISCONNECT. Messages still queued are kept in {@link queued}.
   *
   * `reasonCode` is the DISCONNECT's (MQTT 5): 0 (normal, the default), 0x04 (the broker
   * publishes the will), or another code DISCONNECT may carry. Under 3.1.1, 0x04 closes
   * without a DISCONNECT, which has the broker publish the will too.
   */
  close(reasonCode = 0): void {
    if (!reasonAllowed(T.DISCONNECT, reasonCode)) throw new MqttError(ErrorCode.InvalidArgument, `DISCONNECT may not carry reason code ${reasonCode}`);
    if (this.state === S.Closed) return;
    const t = this.transport;
    const send = this.v5 || reasonCode !== Reason.DisconnectWithWill;
    if (this.state === S.Connected && t && send && this.control(this.v5 ? 3 : 2)) {
      this.ctlEnd += this.v5 ? encodeReason5(this.ctl, this.ctlEnd, T.DISCONNECT, { reasonCode }) : encodeDisconnect(this.ctl, this.ctlEnd);
      this.state = S.Closed; // pump() writes the packet under way and the control bytes, and takes no new PUBLISH
      this.pump();
      // called from inside pump() (an onDelivered callback): the control bytes go now, between packets
      if (this.ctlEnd > this.ctlStart && this.entry === NONE) t.write(this.ctl, this.ctlStart, this.ctlEnd);
    }
    this.state = S.Closed;
    this.direct = false;
    this.transport = null;
    this.dropSink();
    this.timer.clear();
    t?.close();
  }

  /**
   * The client's one entry point for time: runs what is due at `now` (a reconnect after
   * backoff, the CONNACK deadline, a PINGREQ, the PINGRESP deadline) and returns the
   * milliseconds until the next deadline, or -1 when none is set. `now` is the platform's
   * wrapping 32-bit millisecond clock. The platform timer calls it; so may a caller that
   * drives time itself.
   */
  tick(now: number): number {
    const d = this.deadlines;
    if (this.state === S.Connected) d.catchUp(now, this.sentCount, this.rxCount);
    switch (d.due(this.state, now)) {
      case Due.Reconnect:
        this.open(now);
        break;
      case Due.ConnectTimeout: {
        const b = this.broker;
        this.closeTransport();
        this.failed(new MqttError(ErrorCode.ConnectTimeout, `no CONNACK from ${b.host}:${b.port} within ${d.connectTimeoutMs} ms`), now);
        break;
      }
      case Due.PingTimeout:
        this.lost(new MqttError(ErrorCode.KeepaliveTimeout, `no PINGRESP within ${d.pingTimeoutMs} ms`), now);
        break;
      case Due.Ping:
        this.ping(now);
        break;
    }
    return this.arm(now);
  }

  /** The current transport is given up: its sink hears nothing more. */
  private dropSink(): void {
    if (this.sink) this.sink.live = false;
    this.sink = null;
  }

  /** Refuses a control packet that could never be sent (PacketTooLarge), before anything changes. */
  private fitsSendBuffer(size: number, what: string): void {
    if (size > this.ctl.length)
      throw new MqttError(ErrorCode.PacketTooLarge, `${what} of ${size} bytes exceeds the ${this.ctl.length}-byte send buffer (sendBufferSize)`);
  }

  // ---- connection ----

  private open(now: number): void {
    this.state = S.Opening;
    this.decoder.reset();
    this.ctlStart = this.ctlEnd = 0;
    this.entry = NONE;
    this.part = -1;
    this.aliasing = false;
    this.skipping = false;
    for (let k = 0; k < this.inAliasMeta.length; k += 3) this.inAliasMeta[k] = -1; // none carried over (§3.3.2.3.4)
    this.deadlines.opening(now);
    this.dropSink();
    const sink = (this.sink = new Sink(this));
    try {
      this.transport = this.platform.connect(this.broker, sink);
    } catch (e) {
      this.transport = null;
      const b = this.broker;
      this.failed(new MqttError(ErrorCode.TransportError, `cannot connect to ${b.host}:${b.port}: ${(e as Error).message}`), now);
      return;
    }
    this.arm(now);
  }

  /** @internal The transport opened. */
  sinkConnect(): void {
    if (this.state !== S.Opening) return;
    const f = this.connectFields();
    const n = this.v5 ? encodeConnect5(this.ctl, 0, f) : encodeConnect(this.ctl, 0, f);
    this.ctlStart = 0;
    this.ctlEnd = n;
    this.state = S.Connack;
    this.pump();
  }

  /** @internal The transport may be written again. */
  sinkWritable(): void {
    this.pump();
  }

  /** @internal The transport closed. */
  sinkClose(reason: string | null): void {
    const s = this.state;
    // the broker closing in order after our CONNECT, before any CONNACK: NoConnack (not a reset or a TLS alert)
    const code = s === S.Connected ? ErrorCode.ConnectionLost : s === S.Connack && reason === null ? ErrorCode.NoConnack : ErrorCode.TransportError;
    this.lost(new MqttError(code, code === ErrorCode.NoConnack ? "the broker closed the connection after CONNECT, before any CONNACK" : (reason ?? "connection closed by the broker")), this.platform.now());
  }

  private onConnack(p: Packet): void {
    if (this.state !== S.Connack) return this.protocolFailure(new ProtocolError(ProtocolCode.UnexpectedPacket, "CONNACK outside the connect handshake"));
    const now = this.platform.now();
    const rc = p.reasonCode;
    if (rc !== 0) {
      // a 5.0 CONNACK of two bytes is a 3.1.1 broker's refusal (return code 1: not our version), in 3.1.1's words
      const v5 = this.v5 && p.remainingLength > 2;
      const err = v5 ? new ConnectionRefusedError(rc, reasonName(rc, T.CONNACK), p.properties!.text(Prop.ReasonString) ?? null) : new ConnectionRefusedError(rc);
      this.closeTransport();
      // the same answer whatever the retry (credentials, authorization, a ban): the longest backoff
      this.failed(err, now, v5 && refusalIsPermanent(rc));
      return;
    }
    if (this.v5) this.connackLimits(p);
    this.state = S.Connected;
    this.brokers.connected();
    this.stats.connects++;
    this.deadlines.connected(now, this.sentCount, this.rxCount);
    const present = p.sessionPresent;
    if (!present) this.inboundQos2.clear();
    const unsubscribes = this.subs.connected(present);
    const box = this.outbox;
    box.rewind();
    // MQTT 5 with no session: what was in flight goes again as new publications (§4.4)
    if (!present && this.v5) this.stats.republished += box.renew(PUBLISH_DUP);
    if (present) {
      // §4.4: PUBRELs again, in the order their PUBRECs came, ahead of the PUBLISHes resent
      for (let n = 0, id = box.releasedId(0); id !== NONE; id = box.releasedId(++n)) this.ack(T.PUBREL, id);
    } else {
      // no session: the released ids mean nothing to the broker; each PUBREC acknowledged its message
      for (let t = box.forgetReleased(); t !== NONE; t = box.forgetReleased()) {
        this.stats.releasedWithoutSession++;
        if (t >= 0) this.delivered(t);
      }
    }
    this.o.onConnect?.(present, this.broker);
    if (this.state !== S.Connected) return; // closed from the callback
    for (const u of unsubscribes) this.sendUnsubscribe(u.filters, u.done);
    this.sendSubscriptions();
    this.pump();
    this.arm(now);
  }

  /** An MQTT 5 CONNACK's limits (§3.2.2.3) bind this connection; the defaults where it is silent. */
  private connackLimits(p: Packet): void {
    const q = p.properties!;
    const text = (id: number) => q.text(id) ?? null;
    const l: ServerLimits = {
      protocolVersion: 5,
      receiveMaximum: q.number(Prop.ReceiveMaximum, 65535),
      maximumQoS: q.number(Prop.MaximumQoS, 2),
      retainAvailable: q.number(Prop.RetainAvailable, 1) === 1,
      maximumPacketSize: q.number(Prop.MaximumPacketSize, 0),
      topicAliasMaximum: q.number(Prop.TopicAliasMaximum, 0),
      wildcardSubscriptionAvailable: q.number(Prop.WildcardSubscriptionAvailable, 1) === 1,
      subscriptionIdentifiersAvailable: q.number(Prop.SubscriptionIdentifiersAvailable, 1) === 1,
      sharedSubscriptionAvailable: q.number(Prop.SharedSubscriptionAvailable, 1) === 1,
      serverKeepAlive: q.number(Prop.ServerKeepAlive, -1),
      assignedClientIdentifier: text(Prop.AssignedClientIdentifier),
      sessionExpiryInterval: q.number(Prop.SessionExpiryInterval, -1),
      responseInformation: text(Prop.ResponseInformation),
      serverReference: text(Prop.ServerReference),
      reasonString: text(Prop.ReasonString),
    };
    this.limits = l;
    // §4.9: QoS 1 and 2 in flight at most its Receive Maximum; never more than our window
    this.outbox.limit = Math.min(this.window, l.receiveMaximum);
    this.maxQoS = l.maximumQoS;
    this.retainOk = l.retainAvailable;
    this.maxPacket = l.maximumPacketSize > 0 ? Math.min(this.ownMaxPacket, l.maximumPacketSize) : this.ownMaxPacket;
    // a message queued before these limits were known may be beyond them: pump looks at each
    this.checkLimits = l.maximumQoS < 2 || !l.retainAvailable || this.maxPacket < this.ownMaxPacket;
    // heads are made again under the new limit, and under Topic Aliases for this connection (aliasedHead)
    if (this.maxPacket < this.ownMaxPacket || this.ownAliases > 0) for (const th of this.topics.values()) th.payload = -1;
    // §3.2.2.3.14: the broker's keepalive replaces ours for this connection
    const ka = l.serverKeepAlive >= 0 ? l.serverKeepAlive * 1000 : this.keepaliveS * 1000;
    this.deadlines.keepalive(ka, l.serverKeepAlive >= 0 ? (this.o.pingTimeout ?? ka * DEFAULTS.pingTimeoutShare) : this.pingTimeoutMs);
    if (l.assignedClientIdentifier !== null) this.assignedId = l.assignedClientIdentifier;
    // Topic Aliases: none carried over from another connection (§3.3.2.3.4)
    this.subs.useSids = this.o.subscriptionIdentifiers !== false && l.subscriptionIdentifiersAvailable;
    this.aliasMax = Math.min(this.ownAliases, l.topicAliasMaximum);
    this.aliasing = this.aliasMax > 0;
    this.aliasGen++;
    this.aliasNext = 1;
  }

  /** A connection attempt failed: report it, move to the next broker, back off (the longest backoff when `longest`). */
  private failed(error: MqttError, now: number, longest = false): void {
    this.o.onError?.(error);
    this.brokers.failed();
    this.retryLater(now, longest);
  }

  /** The transport ended or must end. */
  private lost(error: MqttError, now: number, longest = false): void {
    if (this.state === S.Closed || this.state === S.Idle) return;
    const wasConnected = this.state === S.Connected;
    this.closeTransport();
    if (!wasConnected) return this.failed(error, now, longest);
    this.stats.connectionLosses++;
    this.o.onDisconnect?.(error);
    if (this.state === S.Closed) return;
    this.retryLater(now, longest);
  }

  private closeTransport(): void {
    const t = this.transport;
    this.transport = null;
    this.dropSink();
    this.direct = false;
    this.entry = NONE;
    this.part = -1;
    this.aliasing = false;
    this.ctlStart = this.ctlEnd = 0;
    if (this.state !== S.Closed) this.state = S.Idle;
    t?.close();
  }

  /** Schedules the next attempt after the backoff; `longest`: at the cap from now on, until a connection succeeds. */
  private retryLater(now: number, longest = false): void {
    if (this.state === S.Closed) return;
    if (longest) this.brokers.attempt = LONGEST;
    const random = this.platform.random ? this.platform.random() : Math.random();
    const delay = backoffDelay(this.brokers.attempt++, this.backoffMin, this.backoffMax, this.jitter, random);
    this.deadlines.retry(now, delay);
    this.arm(now);
  }

  private protocolFailure(error: ProtocolError): void {
    this.stats.protocolErrors++;
    if (this.v5) this.disconnectWith(disconnectReason(error.code));
    const now = this.platform.now();
    if (this.state !== S.Connected) {
      // a failed attempt: failed() reports it, once
      this.closeTransport();
      return this.failed(error, now);
    }
    this.o.onError?.(error);
    this.lost(new MqttError(ErrorCode.ProtocolError, error.message), now);
  }

  /** MQTT 5: a DISCONNECT with `reasonCode` goes out ahead of a close the client decides on (§4.13). */
  private disconnectWith(reasonCode: number): void {
    const t = this.transport;
    if (!t || this.state < S.Connack) return;
    this.pump(); // what is owed first
    if (this.entry !== NONE) return; // a packet half written: the DISCONNECT cannot follow it
    if (this.ctlEnd > this.ctlStart) t.write(this.ctl, this.ctlStart, this.ctlEnd);
    const n = encodeReason5(this.ctl, 0, T.DISCONNECT, { reasonCode });
    this.ctlStart = this.ctlEnd = 0;
    t.write(this.ctl, 0, n);
  }

  // ---- time ----

  private ping(now: number): void {
    if (!this.control(2)) return;
    this.ctlEnd += encodePingreq(this.ctl, this.ctlEnd);
    this.deadlines.pinged(now);
    this.pump();
  }

  /** Arms the single timer for the earliest deadline of the current state; returns its wait, -1 for none. */
  private arm(now: number): number {
    const wait = this.deadlines.wait(this.state, now);
    if (wait < 0) this.timer.clear();
    else this.timer.set(wait);
    return wait;
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
    this.lost(new MqttError(ErrorCode.BufferTooSmall, `send buffer of ${this.ctl.length} bytes is full; the connection cannot keep up`), this.platform.now());
    return false;
  }

  private ack(type: number, id: number): void {
    if (!this.control(4)) return;
    this.ctlEnd += encodeAck(this.ctl, this.ctlEnd, type, id);
  }

  /** MQTT 5: an acknowledgement with a reason code and no properties. */
  private ackReason(type: number, id: number, reasonCode: number): void {
    if (!this.control(5)) return;
    this.ctlEnd += encodeAck5(this.ctl, this.ctlEnd, type, { packetId: id, reasonCode });
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
      if (this.entry !== NONE) {
        let k = this.part;
        if (k < 0) {
          const end = this.entry + box.sizeAt(this.entry);
          const n = t.write(ring, this.entryPos, end);
          if (n > 0) wrote = true;
          this.entryPos += n;
          if (this.entryPos < end) break;
        } else {
          // under a Topic Alias: the parts in turn, scratch and ring (chooseAlias)
          const parts = this.parts;
          const end = parts[2 * k + 1];
          const n = t.write(k & 1 ? ring : this.aliasHead, this.entryPos, end);
          if (n > 0) wrote = true;
          this.entryPos += n;
          if (this.entryPos < end) break;
          while (++k < 4 && parts[2 * k] === parts[2 * k + 1]);
          if (k < 4) {
            this.part = k;
            this.entryPos = parts[2 * k];
            continue;
          }
          this.part = -1;
        }
        const token = box.written(this.entry);
        this.entry = NONE;
        if (token !== AWAITING_ACK) this.delivered(token); // QoS 0: done once written
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
      if (this.state !== S.Connected) break;
      const at = box.next();
      if (at === NONE) break;
      if (this.checkLimits && this.beyondLimits(at)) continue;
      if (box.isResend(at)) {
        ring[at] |= PUBLISH_DUP; // §3.3.1.1
        box.resending();
        this.stats.resent++;
      } else {
        if (this.expiring && box.expiredAt(at, this.platform.now())) {
          // MQTT 5: its Message Expiry Interval ran out while it waited: never sent
          const token = box.discard(at);
          this.stats.expired++;
          this.o.onDrop?.("expired", token);
          continue;
        }
        if (this.expiring) {
          // the Message Expiry Interval sent is what is left of it after its wait here
          const left = box.leftMs(at, this.platform.now());
          if (left >= 0) setExpiry(ring, at, box.qosAt(at), Math.ceil(left / 1000));
        }
        if (box.qosAt(at) > 0) {
          const id = this.nextId();
          const idAt = idOffset(ring, at);
          ring[idAt] = id >> 8;
          ring[idAt + 1] = id & 0xff;
          box.assign(at, id);
        }
      }
      this.entry = at;
      this.entryPos = at;
      if (this.aliasing) this.chooseAlias(at);
    }
    this.pumping = false;
    if (wrote) this.sentCount++;
    this.direct = this.state === S.Connected && this.entry === NONE && this.ctlEnd === this.ctlStart && box.idle();
  }

  /**
   * MQTT 5: the Topic Alias for the outbox entry at `at`, about to be written, chosen now
   * (the entry keeps its whole topic, so a resend on a later connection never carries an
   * alias of this one). A topic first published on this connection goes whole; the next
   * time it takes the next free alias and goes with topic and alias, which makes the
   * mapping; from then on with the alias and an empty topic. The alias property goes first
   * in the property block, ahead of the entry's own properties; the entry is then written
   * in the four parts {@link parts} describes.
   */
  private chooseAlias(at: number): void {
    const box = this.outbox;
    const h = box.headAt(at);
    if (h === NO_HEAD) return;
    const th = this.headList[h];
    if (th.aliasGen !== this.aliasGen) {
      th.aliasGen = this.aliasGen;
      th.alias = 0;
      return;
    }
    let alias = th.alias;
    if (alias < 0) return;
    const making = alias === 0;
    if (making) {
      if (this.aliasNext > this.aliasMax) {
        th.alias = -1;
        return;
      }
      alias = this.aliasNext;
    }
    const ring = box.ring;
    let p = at + 1;
    while (ring[p] & 0x80) p++;
    p++; // the topic length
    const tl = (ring[p] << 8) | ring[p + 1];
    const idEnd = p + 2 + tl + (box.qosAt(at) > 0 ? 2 : 0);
    let q = idEnd;
    let plen = 0;
    for (let mul = 1, b = 0x80; b & 0x80; mul *= 128) {
      b = ring[q++];
      plen += (b & 0x7f) * mul;
    }
    const end = at + box.sizeAt(at);
    const props = plen + 3; // and the Topic Alias: 0x23, two bytes
    const b = this.aliasHead;
    const x = header(b, 7, 0, props); // b[7] is not sent: the Property Length from 8 on
    const remaining = end - p - (making ? 0 : tl) - (q - idEnd) + (x - 8) + 3;
    if (packetSize(remaining) > this.maxPacket) return; // as stored (a mapping waits for a smaller one)
    b[x] = 0x23;
    b[x + 1] = alias >> 8;
    b[x + 2] = alias & 0xff;
    let w = header(b, 0, ring[at], remaining);
    if (!making) {
      b[w++] = 0; // an empty topic
      b[w++] = 0;
    }
    const parts = this.parts;
    parts[0] = 0;
    parts[1] = w;
    parts[2] = making ? p : p + 2 + tl;
    parts[3] = idEnd;
    parts[4] = 8;
    parts[5] = x + 3;
    parts[6] = q;
    parts[7] = end;
    if (making) {
      th.alias = alias;
      th.payload = -1; // the direct path makes the short head
      this.aliasNext++;
    }
    this.part = 0;
    this.entryPos = 0;
  }

  /**
   * MQTT 5: the outbox entry at `at`, queued before this broker's limits were known, is
   * beyond them (Maximum QoS, Retain Available, Maximum Packet Size): taken out unsent,
   * counted, reported. Returns whether it was.
   */
  private beyondLimits(at: number): boolean {
    const box = this.outbox;
    const ring = box.ring;
    const qos = box.qosAt(at);
    const size = box.sizeAt(at);
    const retain = (ring[at] & PUBLISH_RETAIN) !== 0;
    if (qos <= this.maxQoS && (!retain || this.retainOk) && size <= this.maxPacket) return false;
    const token = box.discard(at);
    this.stats.refusedByBroker++;
    const why = qos > this.maxQoS ? `QoS ${qos} above the broker's Maximum QoS ${this.maxQoS}` : retain && !this.retainOk ? "retained, and the broker has no retain" : `${size} bytes, above the broker's Maximum Packet Size ${this.maxPacket}`;
    this.o.onError?.(new MqttError(ErrorCode.NotSupported, `queued message not sent: ${why}`));
    this.o.onDrop?.("unsupported", token);
    return true;
  }

  private delivered(token: number): void {
    this.stats.delivered++;
    this.o.onDelivered?.(token);
  }

  /** Next free packet id: skips ids in flight, never 0, wraps 65535 → 1. */
  private nextId(): number {
    for (;;) {
      const id = (this.lastId = this.lastId >= 65535 ? 1 : this.lastId + 1);
      if (!this.outbox.holds(id) && !this.subs.holds(id)) return id;
    }
  }

  private sizeOfSubscribe(subscriptions: Subscription5[], properties: PropertiesFields | null = null): number {
    const f = { packetId: 1, subscriptions, properties };
    return this.v5 ? sizeOfList5(T.SUBSCRIBE, f) : sizeOfSubscribe(f);
  }

  /**
   * Sends the subscriptions not yet sent on this connection, one SUBSCRIBE per batch that
   * fits half the send buffer; under Subscription Identifiers one per filter, carrying its identifier.
   */
  private sendSubscriptions(): void {
    // a done or onError callback of the refusals below subscribed: what it added goes after them, from here
    if (this.refusingSubs) return;
    const half = this.ctl.length / 2;
    const subs = this.subs;
    const l = this.limits;
    const wildcards = !this.v5 || l === null || l.wildcardSubscriptionAvailable;
    const shared = !this.v5 || l === null || l.sharedSubscriptionAvailable;
    if (!wildcards || !shared) {
      this.refusingSubs = true;
      try {
        this.stats.subscriptionsRefused += subs.refuseUnsupported(wildcards, shared, this.o);
      } finally {
        this.refusingSubs = false;
      }
      if (this.state !== S.Connected) return; // closed from a callback
    }
    const batches = subs.toSend((batch) => !subs.useSids && this.sizeOfSubscribe(batch) <= half, wildcards, shared);
    if (batches.length === 0) return;
    for (const subscriptions of batches) {
      const properties = subs.useSids ? { subscriptionIdentifier: subs.get(subscriptions[0].topic)!.value.sid } : null;
      const f = { packetId: this.nextId(), subscriptions, properties };
      if (!this.control(this.sizeOfSubscribe(subscriptions, properties))) return;
      this.ctlEnd += this.v5 ? encodeList5(this.ctl, this.ctlEnd, T.SUBSCRIBE, f) : encodeSubscribe(this.ctl, this.ctlEnd, f);
      this.subs.subscribed(f.packetId, subscriptions);
    }
    this.pump();
  }

  private sendUnsubscribe(filters: string[], done: UnsubscribeDone | null): void {
    const f = { packetId: this.nextId(), topics: filters };
    if (!this.control(this.v5 ? sizeOfList5(T.UNSUBSCRIBE, f) : sizeOfUnsubscribe(f))) return;
    this.ctlEnd += this.v5 ? encodeList5(this.ctl, this.ctlEnd, T.UNSUBSCRIBE, f) : encodeUnsubscribe(this.ctl, this.ctlEnd, f);
    this.subs.unsubscribed(f.packetId, filters, done);
    this.pump();
  }

  // ---- input ----

  /** @internal Bytes arrived on the transport. */
  sinkData(data: Uint8Array, start: number, end: number): void {
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
    if (this.state !== S.Connected && p.type !== T.CONNACK) {
      if (this.state === S.Connack)
        return this.protocolFailure(new ProtocolError(ProtocolCode.UnexpectedPacket, `${PacketName[p.type]} before CONNACK`));
      return;
    }
    switch (p.type) {
      case T.PUBLISH:
        return this.onPublish(this.message); // p is the message: the decoder fills it
      case T.PUBACK: {
        // a failure ends the message whatever its QoS (a QoS 2 one before its PUBREC too: the broker took it as QoS 1)
        if (p.reasonCode >= 0x80) return this.refusedByBroker(p, this.outbox.refuse(p.packetId));
        const token = this.outbox.ack(p.packetId);
        if (token >= 0) this.delivered(token);
        else if (token === WRONG_QOS) {
          // a broker that takes QoS 2 as QoS 1 (RabbitMQ) answers its PUBLISH with PUBACK: done
          // as at QoS 1 (counted); after its PUBREC a PUBACK breaks the protocol
          const t = this.outbox.ackAtQos1(p.packetId);
          if (t === WRONG_QOS) return this.protocolFailure(new ProtocolError(ProtocolCode.UnexpectedPacket, `PUBACK for QoS 2 message ${p.packetId}, past its PUBREC`));
          this.stats.qos2AsQos1++;
          if (t >= 0) this.delivered(t);
        }
        else if (token !== ACKED_AFTER_DROP) this.stats.unknownAcks++;
        this.pump(); // a window slot came free
        return;
      }
      case T.CONNACK:
        return this.onConnack(p);
      case T.PINGRESP:
        // the next PINGREQ one interval after this PINGRESP
        return this.deadlines.ponged(this.platform.now());
      case T.PUBREC: {
        // §4.3.3: the PUBLISH is acknowledged, its PUBREL due; for an unknown id the PUBREL
        // is sent anyway (counted), so a broker's session never stalls on it
        // MQTT 5: a failure reason code ends the flow here, with no PUBREL (§4.3.3)
        if (p.reasonCode >= 0x80) return this.refusedByBroker(p, this.outbox.refuse(p.packetId));
        const r = this.outbox.pubrec(p.packetId);
        if (r === WRONG_QOS) return this.protocolFailure(new ProtocolError(ProtocolCode.UnexpectedPacket, `PUBREC for QoS 1 message ${p.packetId}`));
        if (r === UNKNOWN_ID) this.stats.unknownAcks++;
        return this.ack(T.PUBREL, p.packetId);
      }
      case T.PUBREL: {
        const held = this.inboundQos2.release(p.packetId);
        // MQTT 5: an id we hold no message for is answered 0x92, Packet Identifier not found (§3.7.2.1)
        if (held || !this.v5) this.ack(T.PUBCOMP, p.packetId);
        else this.ackReason(T.PUBCOMP, p.packetId, Reason.PacketIdNotFound);
        if (held) this.o.onReleased?.(p.packetId);
        return;
      }
      case T.PUBCOMP: {
        const token = this.outbox.pubcomp(p.packetId);
        // MQTT 5: 0x92, the broker had lost the id; its PUBREC already took the message, so it is done, and reported
        if (p.reasonCode >= 0x80) this.reportReason(ErrorCode.PublishRefused, `PUBCOMP for message ${p.packetId}`, p);
        if (token >= 0) this.delivered(token);
        else if (token === UNKNOWN_ID) this.stats.unknownAcks++;
        this.pump(); // a window slot came free
        return;
      }
      case T.SUBACK:
      case T.UNSUBACK: {
        const refused = this.subs.acked(p.type, p.packetId, p.data, p.payloadStart, p.payloadEnd, this.o);
        if (refused < 0) this.stats.unknownAcks++;
        else this.stats.subscriptionsRefused += refused;
        return;
      }
      case T.DISCONNECT:
        if (this.v5) return this.serverDisconnect(p);
        return this.protocolFailure(new ProtocolError(ProtocolCode.UnexpectedPacket, "a broker does not send disconnect"));
      case T.AUTH:
        return this.protocolFailure(new ProtocolError(ProtocolCode.UnexpectedPacket, "AUTH: enhanced authentication is not supported"));
      default:
        return this.protocolFailure(new ProtocolError(ProtocolCode.UnexpectedPacket, `a broker does not send ${PacketName[p.type]}`));
    }
  }

  /** The broker's error for packet `p`, as a typed error to onError; returned. */
  private reportReason(code: string, what: string, p: Packet): ReasonCodeError {
    const rc = p.reasonCode;
    const e = new ReasonCodeError(code, what, rc, reasonName(rc, p.type), p.properties?.text(Prop.ReasonString) ?? null);
    this.o.onError?.(e);
    return e;
  }

  /**
   * MQTT 5: a PUBACK or PUBREC with a failure reason code (`token` what the outbox made of
   * it): the message is done without being delivered, its id and quota free; counted,
   * reported with the reason, never retried (§4.4).
   */
  private refusedByBroker(p: Packet, token: number): void {
    if (token === UNKNOWN_ID) this.stats.unknownAcks++;
    else {
      this.stats.refusedByBroker++;
      this.reportReason(ErrorCode.PublishRefused, `the broker refused message ${p.packetId}`, p);
      if (token >= 0) this.o.onDrop?.("refused", token);
    }
    this.pump(); // a window slot came free
  }

  /** MQTT 5: the broker ends the connection with a reason (§3.14); the client reconnects, after the longest backoff when told to go away. */
  private serverDisconnect(p: Packet): void {
    const rc = p.reasonCode;
    const reason = p.properties!.text(Prop.ReasonString) ?? null;
    this.o.onServerDisconnect?.(rc, reason);
    const now = this.platform.now();
    this.lost(new ReasonCodeError(ErrorCode.ServerDisconnect, "the broker disconnected", rc, reasonName(rc, T.DISCONNECT), reason), now, disconnectIsGoAway(rc));
  }

  private onPublish(m: Message): void {
    if (m.payloadOffset === 0) {
      // a whole message, or the first fragment of one
      if (this.inChecks) {
        // MQTT 5: the Maximum Packet Size and the Topic Aliases we announced
        if (this.inMax > 0 && packetSize(m.remainingLength) > this.inMax) return this.tooLarge(m);
        if (this.inAliases > 0 && m.properties!.topicAlias > 0 && !this.inboundAlias(m, m.properties!.topicAlias)) return;
      }
      this.skipping = false;
      if (m.more && this.o.oversize === "drop") {
        this.skipping = true;
        this.stats.droppedInbound++;
        this.o.onDrop?.("oversize", m.packetId);
      } else if (m.qos === 2) {
        if (this.inboundQos2.has(m.packetId)) {
          this.skipping = true;
          this.stats.duplicatesInbound++;
        } else if (this.inboundQos2.full) return this.qos2Overflow(m.packetId);
      }
    }
    if (!this.skipping) {
      // the handlers of the subscriptions the topic matches, then onMessage; inline: this is the hot path
      const subs = this.subs;
      const slot = m.topicSlot;
      let count = -1;
      let at = 0;
      const rows = this.routes;
      const sp = m.properties;
      if (sp !== null && sp.subscriptionIdentifierCount > 0 && subs.allBySid && this.bySid(m, sp)) {
        // MQTT 5: the message's Subscription Identifiers name the subscriptions it is for: no topic match
        count = 0;
      } else if (slot >= 0) {
        // the rows this topic matched last time, unless the slot or the table changed since
        at = slot * ROUTE_STRIDE;
        if (rows[at] !== this.topicKeys[slot] || rows[at + 1] !== subs.generation) makeRoute(rows, at, this.topicKeys[slot], subs, m);
        count = rows[at + 2];
        at += 3;
      }
      subs.dispatching = true;
      if (count >= 0) {
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
        for (let i = subs.next(m.topicData, m.topicStart, m.topicLength, 0); i >= 0; i = subs.next(m.topicData, m.topicStart, m.topicLength, i + 1)) {
          const h = subs.at(i).value.handler;
          if (h !== null)
            try {
              h(m);
            } catch (e) {
              this.handlerFailed(e);
            }
        }
      }
      subs.dispatching = false;
      if (subs.deferred !== null) subs.removeDeferred();
      const all = this.o.onMessage;
      if (all)
        try {
          all(m);
        } catch (e) {
          this.handlerFailed(e);
        }
    }
    if (m.more) return;
    if (!this.skipping) this.stats.received++;
    const qos = m.qos;
    if (qos === 1) this.ack(T.PUBACK, m.packetId);
    else if (qos === 2) {
      if (!this.inboundQos2.has(m.packetId)) this.inboundQos2.add(m.packetId);
      this.ack(T.PUBREC, m.packetId);
    }
  }

  /** MQTT 5: a PUBLISH larger than the Maximum Packet Size we announced (§3.1.2.11.4): not delivered, DISCONNECT 0x95. */
  private tooLarge(m: Message): void {
    this.stats.droppedInbound++;
    const n = packetSize(m.remainingLength);
    this.protocolFailure(new ProtocolError(ProtocolCode.PacketTooLarge, `PUBLISH of ${n} bytes exceeds the Maximum Packet Size of ${this.inMax} we announced`));
  }

  /**
   * MQTT 5: runs the handlers of the subscriptions `m`'s Subscription Identifiers name (as
   * the broker matched them). Returns false, having run none, when one names no subscription
   * of ours: the caller then matches the topic.
   */
  private bySid(m: Message, sp: Properties): boolean {
    const subs = this.subs;
    const ids = subs.bySid;
    let h: MessageHandler | null;
    if (sp.subscriptionIdentifierCount === 1) {
      const sid = sp.subscriptionIdentifier;
      if (sid >= ids.length || ids[sid] === undefined) return false;
      subs.dispatching = true;
      if ((h = ids[sid]!.value.handler) !== null)
        try {
          h(m);
        } catch (e) {
          this.handlerFailed(e);
        }
      return true;
    }
    const c = this.sidCursor.reset(sp);
    while (c.nextSubscriptionIdentifier()) if (c.value >= ids.length || ids[c.value] === undefined) return false;
    subs.dispatching = true;
    c.reset(sp);
    while (c.nextSubscriptionIdentifier())
      if ((h = ids[c.value]!.value.handler) !== null)
        try {
          h(m);
        } catch (e) {
          this.handlerFailed(e);
        }
    return true;
  }

  /**
   * MQTT 5: the inbound PUBLISH `m` carries Topic Alias `a` (in range: the decoder checked).
   * With a topic, the alias now names it; without, `m` takes the topic the alias names
   * (`topicData` the alias table, and the topic cache slot it had while that slot still
   * holds it). Returns false when the alias names none: a protocol error (0x82), the
   * connection ended and the message not delivered (a QoS 1 or 2 one comes again).
   */
  private inboundAlias(m: Message, a: number): boolean {
    const meta = this.inAliasMeta;
    const k = (a - 1) * 3;
    const cap = this.inTopicCap;
    const n = m.topicLength;
    if (n > 0) {
      if (n > cap) meta[k] = -2;
      else {
        const from = m.topicData;
        const to = this.inAliasTopics;
        for (let i = 0, s = m.topicStart, t = (a - 1) * cap; i < n; i++) to[t + i] = from[s + i];
        meta[k] = n;
        const slot = m.topicSlot;
        meta[k + 1] = slot;
        meta[k + 2] = slot >= 0 ? this.topicKeys[slot] | 0 : 0;
      }
      return true;
    }
    const len = meta[k];
    if (len < 0) {
      this.stats.droppedInbound++;
      this.protocolFailure(
        new ProtocolError(
          ProtocolCode.UnknownTopicAlias,
          len === -1 ? `PUBLISH with Topic Alias ${a}, which names no topic on this connection` : `PUBLISH with Topic Alias ${a}, whose topic is longer than the ${cap} bytes kept (inboundTopicLength)`,
        ),
      );
      return false;
    }
    m.topicData = this.inAliasTopics;
    m.topicStart = (a - 1) * cap;
    m.topicLength = len;
    const slot = meta[k + 1];
    m.topicSlot = slot >= 0 && (this.topicKeys[slot] | 0) === meta[k + 2] ? slot : -1;
    return true;
  }

  /** A QoS 2 message with no room to remember its id: dropped unacknowledged, reported, and the connection renewed. */
  private qos2Overflow(id: number): void {
    this.stats.droppedInbound++;
    this.o.onDrop?.("qos2-overflow", id);
    const cap = this.inboundQos2.capacity;
    const e = new MqttError(ErrorCode.InboundQos2Full, `inbound QoS 2 message ${id} dropped: ${cap} already await PUBREL (option inboundQos2); reconnecting so the broker sends it again`);
    this.o.onError?.(e);
    this.pump(); // the acks owed for the messages before it (PUBRECs among them) go out first
    // MQTT 5: we announced the table's size as Receive Maximum, so the broker broke it
    if (this.v5) this.disconnectWith(Reason.ReceiveMaximumExceeded);
    this.lost(e, this.platform.now());
  }

  /** An application handler threw: counted and reported, never allowed to break the session. */
  private handlerFailed(e: unknown): void {
    this.stats.handlerErrors++;
    this.o.onError?.(new MqttError(ErrorCode.HandlerError, `message handler threw: ${(e as Error)?.message ?? e}`));
  }
}

/** The DISCONNECT reason code for a protocol error the decoder or the client found (§4.13). */
function disconnectReason(code: string): number {
  switch (code) {
    case ProtocolCode.InvalidTopicAlias:
      return Reason.TopicAliasInvalid;
    case ProtocolCode.PacketTooLarge:
      return Reason.PacketTooLarge;
    case ProtocolCode.UnexpectedPacket:
    case ProtocolCode.DuplicateProperty:
    case ProtocolCode.InvalidPropertyValue:
    case ProtocolCode.InvalidReasonCode:
    case ProtocolCode.MissingProperty:
    case ProtocolCode.InvalidSubscriptionId:
    case ProtocolCode.UnknownTopicAlias:
      return Reason.ProtocolError;
    default:
      return Reason.MalformedPacket;
  }
}

/**
 * Rewrites the Message Expiry Interval of the MQTT 5 PUBLISH at `ring[at]` (QoS `qos`) to
 * `seconds`, walking its property block to find it; nothing when it has none.
 */
function setExpiry(ring: Uint8Array, at: number, qos: number, seconds: number): void {
  let p = idOffset(ring, at) + (qos > 0 ? 2 : 0);
  let len = 0;
  for (let mul = 1, b = 0x80; b & 0x80; mul *= 128) {
    b = ring[p++];
    len += (b & 0x7f) * mul;
  }
  const end = p + len;
  while (p < end) {
    const id = ring[p++];
    if (id === Prop.MessageExpiryInterval) {
      ring[p] = seconds >>> 24;
      ring[p + 1] = (seconds >> 16) & 0xff;
      ring[p + 2] = (seconds >> 8) & 0xff;
      ring[p + 3] = seconds & 0xff;
      return;
    }
    p += valueSize(ring, p, PROP_TYPE[id]);
  }
}

/** Offset of a QoS 1/2 PUBLISH's packet id in `ring`, the packet starting at `at`. */
function idOffset(ring: Uint8Array, at: number): number {
  let p = at + 1;
  while (ring[p] & 0x80) p++;
  p++;
  return p + 2 + ((ring[p] << 8) | ring[p + 1]);
}
