/**
 * The client's options, their defaults (one table), and the settings resolved from them
 * once at construction. Nothing here runs per message.
 */
import type { Bytes } from "./encode.js";
import type { PropertiesFields, UserProperties, Will5Fields } from "./encode5.js";
import { ErrorCode, MqttError } from "./errors.js";
import type { Message } from "./message.js";
import type { BrokerAddress } from "./platform.js";

/** What to do with a publish when the outbox is full. */
export type QueuePolicy = "refuse" | "drop-oldest";

/** Why a message was dropped (see {@link ClientOptions.onDrop}). */
export type DropReason = "queue-full" | "oversize" | "qos2-overflow" | "refused" | "unsupported" | "expired";

/** What the broker announced in its CONNACK (MQTT 5, §3.2.2.3), with the protocol's defaults for what it left out. */
export interface ServerLimits {
  /** 4 (3.1.1) or 5. */
  protocolVersion: number;
  /** QoS 1 and 2 messages it takes at once (65535 when not announced). */
  receiveMaximum: number;
  maximumQoS: number;
  retainAvailable: boolean;
  /** Its largest packet, 0 for no limit. */
  maximumPacketSize: number;
  topicAliasMaximum: number;
  wildcardSubscriptionAvailable: boolean;
  subscriptionIdentifiersAvailable: boolean;
  sharedSubscriptionAvailable: boolean;
  /** Keepalive it imposes in seconds, -1 when it left ours. */
  serverKeepAlive: number;
  /** The client id it assigned (we sent an empty one), or null. */
  assignedClientIdentifier: string | null;
  /** Session Expiry Interval it imposes, -1 when it left ours. */
  sessionExpiryInterval: number;
  responseInformation: string | null;
  serverReference: string | null;
  reasonString: string | null;
}

export interface ClientOptions {
  clientId: string;
  /** Tried in order; after a failed attempt the next one is used. */
  brokers: BrokerAddress[];
  /** Clean session (§3.1.2.4); default true. */
  clean?: boolean;
  /** Seconds; 0 turns keepalive off. Default 60. */
  keepalive?: number;
  /** 4: MQTT 3.1.1 (the default); 5: MQTT 5.0. */
  protocolVersion?: 4 | 5;
  /** MQTT 5: Session Expiry Interval in seconds (0xFFFFFFFF: never). Default 0: the session ends with the connection. */
  sessionExpiry?: number;
  /** MQTT 5: Request Problem Information (§3.1.2.11.7); default true (the broker's default). */
  requestProblemInformation?: boolean;
  /** MQTT 5: the largest packet we accept, announced as Maximum Packet Size; default none (we take any size, in fragments). */
  maxInboundPacketSize?: number;
  /** MQTT 5: User Properties sent in every CONNECT (§3.1.2.11.8), name to value or values in order. */
  connectUserProperties?: UserProperties;
  /** The will; under MQTT 5 with its properties (willDelayInterval, messageExpiryInterval, contentType, ...). */
  will?: Will5Fields | null;
  username?: string | null;
  password?: Bytes | null;
  /** Largest inbound packet held whole, and the fragment size above it. Default 1024. */
  receiveBufferSize?: number;
  /** Room for control packets: CONNECT, SUBSCRIBE, acks, PINGREQ. Default 512. */
  sendBufferSize?: number;
  /** Bytes of outgoing PUBLISH packets held: the offline queue and the resend store. Default 8192. */
  outboxBytes?: number;
  /** QoS 1 and 2 messages in flight at once (QoS 2 until PUBCOMP). Default 8. */
  inflightWindow?: number;
  /** Outbox full: refuse the new message (throws `QueueFull`) or drop the oldest. Default "refuse". */
  queuePolicy?: QueuePolicy;
  /** Largest outgoing PUBLISH in bytes; larger ones are refused before a byte is sent. Default: what the outbox holds. */
  maxPacketSize?: number;
  /** Inbound messages larger than the receive buffer: hand them over in fragments, or drop and count them. Default "fragment". */
  oversize?: "fragment" | "drop";
  /**
   * Inbound QoS 2 messages answered with PUBREC and awaiting their PUBREL at once: the
   * table that keeps a resent duplicate from being delivered twice. Default 32 (mosquitto sends up to 20 at once by default). A broker
   * that sends more is answered as {@link ClientOptions.onDrop} "qos2-overflow" says.
   */
  inboundQos2?: number;
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
  /**
   * MQTT 5: outbound Topic Aliases used at most, fewer when the broker's Topic Alias Maximum
   * is lower. A topic published again on a connection gets the next free alias: that PUBLISH
   * carries topic and alias, later ones only the alias. Chosen as each packet is sent, never
   * stored: a resend after a reconnect carries its whole topic. Default: `topicCache`; 0 uses none.
   */
  topicAliases?: number;
  /**
   * MQTT 5: inbound Topic Aliases, announced as our Topic Alias Maximum: a fixed table of
   * this many topics of up to `inboundTopicLength` bytes. Default 0 (the broker sends whole topics).
   */
  inboundTopicAliases?: number;
  /**
   * MQTT 5: give each subscription a Subscription Identifier (one SUBSCRIBE per filter, as an
   * identifier names every filter of its packet) where the broker supports them, and route an
   * inbound message by the identifiers it carries, without matching its topic. Default true.
   */
  subscriptionIdentifiers?: boolean;

  /** Connected (CONNACK accepted). */
  onConnect?(sessionPresent: boolean, broker: BrokerAddress): void;
  /** An established connection ended; the client reconnects unless closed. */
  onDisconnect?(error: MqttError | null): void;
  /** Every inbound message (or fragment), after the handlers of matching subscriptions. */
  onMessage?(message: Message): void;
  /** A publish finished: QoS 0 written, QoS 1 PUBACK, QoS 2 PUBCOMP (or PUBREC, when the broker then lost the session). `token` is what publish returned. */
  onDelivered?(token: number): void;
  /**
   * A message was dropped, and counted in the stats:
   * - "queue-full": outgoing, the oldest dropped from a full outbox (`token` is its token);
   * - "oversize": inbound, larger than the receive buffer under oversize "drop" (`token` is its packet id);
   * - "qos2-overflow": inbound QoS 2 with the {@link ClientOptions.inboundQos2} table full: not
   *   delivered nor acknowledged (`token` is its packet id); the client reconnects, so a
   *   broker keeping the session sends it again, and `onError` gets `InboundQos2Full`;
   * - "refused": outgoing, MQTT 5: the broker answered it with a failure reason code
   *   (`onError` gets a `PublishRefused` error naming it); not retried (§4.4);
   * - "unsupported": outgoing, MQTT 5: queued before the broker's limits were known and
   *   beyond them (QoS above Maximum QoS, retain where Retain Available is 0, larger than
   *   its Maximum Packet Size); not sent.
   */
  onDrop?(reason: DropReason, token: number): void;
  /** MQTT 5: the broker's DISCONNECT, before the connection closes: its reason code and Reason String. */
  onServerDisconnect?(reasonCode: number, reasonString: string | null): void;
  /** An inbound QoS 2 message's flow is complete: its PUBREL came and the PUBCOMP is queued. */
  onReleased?(packetId: number): void;
  /** Something failed that the application may want to know: refusals, protocol errors, timeouts, handlers that threw. */
  onError?(error: MqttError): void;
}

export type MessageHandler = (message: Message) => void;

export interface SubscribeOptions {
  qos?: number;
  /** MQTT 5 (§3.8.3.1): No Local (not our own messages back), Retain As Published, Retain Handling (0 send retained, 1 only if new, 2 never). */
  nl?: boolean;
  rap?: boolean;
  rh?: number;
  /** Called for messages whose topic matches this filter. */
  handler?: MessageHandler | null;
  /** The broker answered: granted QoS, or an error (SUBACK 0x80). */
  done?: (error: MqttError | null, granted: number) => void;
  /**
   * The broker's session already holds this subscription (granted before a restart or a
   * deep sleep, with clean session off): it is sent only if a connection finds no session.
   * `done` then runs only when it is sent and answered.
   */
  known?: boolean;
}

export interface PublishOptions {
  qos?: number;
  retain?: boolean;
  /**
   * MQTT 5: the PUBLISH properties (payloadFormatIndicator, messageExpiryInterval,
   * contentType, responseTopic, correlationData, userProperties), written into the outbox
   * entry with the message. Refused under 3.1.1.
   */
  properties?: PropertiesFields | null;
}

/** Counters; each drop or refusal is counted here and reported through a callback. */
export interface ClientStats {
  published: number;
  delivered: number;
  /** Publishes refused: queue full under "refuse", or over the size limit. */
  refused: number;
  /** Outgoing messages dropped from a full outbox under "drop-oldest". */
  dropped: number;
  /** QoS 1 and 2 messages sent again with DUP=1 after a reconnect. */
  resent: number;
  received: number;
  /** Inbound messages dropped: larger than the receive buffer (oversize "drop"), or QoS 2 with its table full. */
  droppedInbound: number;
  /** Inbound QoS 2 duplicates not delivered twice. */
  duplicatesInbound: number;
  /** PUBACKs, PUBRECs, PUBCOMPs, SUBACKs and UNSUBACKs for ids not in flight, ignored (a PUBREC is still answered). */
  unknownAcks: number;
  connects: number;
  connectionLosses: number;
  protocolErrors: number;
  /** Application handlers (subscription handlers, onMessage) that threw. */
  handlerErrors: number;
  /**
   * QoS 2 messages past their PUBREC whose PUBCOMP never came because the broker then
   * kept no session: done (the broker owned each from its PUBREC on, §4.3.3), reported to
   * onDelivered, and counted here.
   */
  releasedWithoutSession: number;
  /** MQTT 5: messages the broker refused with a failure reason code, and those not sent because beyond its announced limits. */
  refusedByBroker: number;
  /**
   * MQTT 5: QoS 1 and 2 messages in flight when a reconnect found no session, sent again as
   * new publications (new packet ids, no DUP; §4.4 binds ids to a session).
   */
  republished: number;
  /** MQTT 5: queued messages whose Message Expiry Interval ran out before they could be sent; dropped (onDrop "expired"). */
  expired: number;
  /**
   * QoS 2 messages the broker answered with a PUBACK instead of a PUBREC (RabbitMQ takes QoS 2
   * as QoS 1): done as at QoS 1, delivered at least once rather than exactly once.
   */
  qos2AsQos1: number;
  /**
   * Subscriptions refused: by the broker's SUBACK (0x80, or a 5.0 reason code), or under
   * MQTT 5 not sent because the broker announced it does not support them (wildcard or
   * shared subscriptions); each also reported to onError and the subscribe callback.
   */
  subscriptionsRefused: number;
}

/** Every default, in one place. */
export const DEFAULTS = Object.freeze({
  clean: true,
  keepalive: 60,
  receiveBufferSize: 1024,
  sendBufferSize: 512,
  outboxBytes: 8192,
  inflightWindow: 8,
  queuePolicy: "refuse" as QueuePolicy,
  oversize: "fragment" as "fragment" | "drop",
  inboundQos2: 32,
  reconnectMin: 1000,
  reconnectMax: 60000,
  reconnectJitter: 0.25,
  connectTimeout: 10000,
  /** The PINGRESP wait, as a share of the keepalive. */
  pingTimeoutShare: 0.5,
  topicCache: 16,
  inboundTopics: 4,
  inboundTopicLength: 128,
} as const);

/** The options as numbers and flags, defaults applied and checked: made once, read on the cold paths. */
export interface Settings {
  readonly keepalive: number;
  readonly keepaliveMs: number;
  readonly pingTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly backoffMin: number;
  readonly backoffMax: number;
  readonly jitter: number;
  readonly sendBufferSize: number;
  readonly receiveBufferSize: number;
  readonly outboxBytes: number;
  readonly inflightWindow: number;
  readonly inboundQos2: number;
  readonly topicCache: number;
  readonly inboundTopics: number;
  readonly inboundTopicLength: number;
  readonly topicAliases: number;
  readonly inboundTopicAliases: number;
  readonly protocolVersion: number;
}

function count(value: number | undefined, fallback: number, min: number, what: string): number {
  const v = value ?? fallback;
  if (!(Number.isInteger(v) && v >= min)) throw new MqttError(ErrorCode.InvalidArgument, `${what} must be an integer of at least ${min}, not ${v}`);
  return v;
}

function version(v: number | undefined): number {
  if (v === undefined || v === 4 || v === 5) return v ?? 4;
  throw new MqttError(ErrorCode.InvalidArgument, `protocolVersion must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0), not ${v}`);
}

/** Applies the defaults to `o`; throws `InvalidArgument` for a value out of range. */
export function resolveOptions(o: ClientOptions): Settings {
  if (!o || !Array.isArray(o.brokers) || o.brokers.length === 0)
    throw new MqttError(ErrorCode.InvalidArgument, "options.brokers must list at least one broker");
  const keepalive = o.keepalive ?? DEFAULTS.keepalive;
  const keepaliveMs = keepalive * 1000;
  return {
    keepalive,
    keepaliveMs,
    pingTimeoutMs: o.pingTimeout ?? keepaliveMs * DEFAULTS.pingTimeoutShare,
    connectTimeoutMs: o.connectTimeout ?? DEFAULTS.connectTimeout,
    backoffMin: o.reconnect?.min ?? DEFAULTS.reconnectMin,
    backoffMax: o.reconnect?.max ?? DEFAULTS.reconnectMax,
    jitter: o.reconnect?.jitter ?? DEFAULTS.reconnectJitter,
    sendBufferSize: count(o.sendBufferSize, DEFAULTS.sendBufferSize, 1, "sendBufferSize"),
    receiveBufferSize: count(o.receiveBufferSize, DEFAULTS.receiveBufferSize, 8, "receiveBufferSize"),
    outboxBytes: count(o.outboxBytes, DEFAULTS.outboxBytes, 64, "outboxBytes"),
    inflightWindow: count(o.inflightWindow, DEFAULTS.inflightWindow, 1, "inflightWindow"),
    inboundQos2: count(o.inboundQos2, DEFAULTS.inboundQos2, 1, "inboundQos2"),
    topicCache: count(o.topicCache, DEFAULTS.topicCache, 1, "topicCache"),
    inboundTopics: count(o.inboundTopics, DEFAULTS.inboundTopics, 0, "inboundTopics"),
    inboundTopicLength: count(o.inboundTopicLength, DEFAULTS.inboundTopicLength, 1, "inboundTopicLength"),
    topicAliases: count(o.topicAliases, Math.min(o.topicCache ?? DEFAULTS.topicCache, 65535), 0, "topicAliases"),
    inboundTopicAliases: count(o.inboundTopicAliases, 0, 0, "inboundTopicAliases"),
    protocolVersion: version(o.protocolVersion),
  };
}
