/**
 * Error codes and error types of xsmqtt.
 *
 * Every failure the library reports carries one of the codes below, so callers can
 * branch on `err.code` without parsing messages. Hot paths return numbers; these
 * objects are created only when something has already gone wrong.
 */

/**
 * Codes of {@link ProtocolError}: the peer sent bytes that MQTT 3.1.1 (or 5.0, on a v5
 * connection) forbids, or a packet this decoder cannot hold. Each names the rule broken.
 */
export const ProtocolCode = Object.freeze({
  /** Remaining length uses more than four bytes (MQTT 3.1.1 §2.2.3). */
  MalformedRemainingLength: "MalformedRemainingLength",
  /** Packet type 0 or 15 (reserved, §2.2.1). */
  UnknownPacketType: "UnknownPacketType",
  /** Fixed-header flag bits differ from the values §2.2.2 requires. */
  InvalidFlags: "InvalidFlags",
  /** PUBLISH or will QoS 3 (§3.3.1.2, §3.1.2.6). */
  InvalidQoS: "InvalidQoS",
  /** Packet identifier 0 where one is required (§2.3.1). */
  InvalidPacketId: "InvalidPacketId",
  /** A field's length runs past the end of its packet, or bytes are left over. */
  LengthOverrun: "LengthOverrun",
  /** A packet's remaining length is not the one its type requires. */
  InvalidLength: "InvalidLength",
  /** A string is not well-formed UTF-8, or contains U+0000 (§1.5.3). */
  MalformedUtf8: "MalformedUtf8",
  /** CONNACK or SUBACK return code out of range (§3.2.2.3, §3.9.3). */
  InvalidReturnCode: "InvalidReturnCode",
  /** PUBLISH topic empty or containing wildcards (§3.3.2.1, §4.7). */
  InvalidTopic: "InvalidTopic",
  /** SUBSCRIBE/UNSUBSCRIBE topic filter not valid (§4.7.1). */
  InvalidTopicFilter: "InvalidTopicFilter",
  /** SUBSCRIBE, SUBACK or UNSUBSCRIBE without a single entry (§3.8.3, §3.10.3). */
  EmptyPayload: "EmptyPayload",
  /** CONNECT protocol name/level is not MQTT 3.1.1 or 5.0 ("MQTT", 4 or 5; §3.1.2.1-2). */
  UnsupportedProtocol: "UnsupportedProtocol",
  /** A packet other than PUBLISH, or a PUBLISH's topic, is larger than the receive buffer. */
  PacketTooLarge: "PacketTooLarge",
  /** A packet type this side of the connection must never receive. */
  UnexpectedPacket: "UnexpectedPacket",
  /** MQTT 5: a variable-byte integer in a property (its length, a Subscription Identifier) is longer than four bytes (§1.5.5). */
  MalformedVarint: "MalformedVarint",
  /** MQTT 5: the Property Length, or a property's value, runs past the end of the packet or of the property block. */
  PropertyOverrun: "PropertyOverrun",
  /** MQTT 5: an identifier that names no property (§2.2.2.2). */
  UnknownProperty: "UnknownProperty",
  /** MQTT 5: a property not allowed in this packet (§2.2.2.2). */
  PropertyNotAllowed: "PropertyNotAllowed",
  /** MQTT 5: a property that may appear once appears twice (§3.x.2.2). */
  DuplicateProperty: "DuplicateProperty",
  /** MQTT 5: a property value outside its range (a 0/1 flag of 2, Receive Maximum 0, ...). */
  InvalidPropertyValue: "InvalidPropertyValue",
  /** MQTT 5: Topic Alias 0, or above the Topic Alias Maximum this side announced (§3.3.2.3.4). */
  InvalidTopicAlias: "InvalidTopicAlias",
  /** MQTT 5: a PUBLISH with an empty topic and a Topic Alias that names no topic on this connection. */
  UnknownTopicAlias: "UnknownTopicAlias",
  /** MQTT 5: a Subscription Identifier of 0 (§3.8.2.1.2). */
  InvalidSubscriptionId: "InvalidSubscriptionId",
  /** MQTT 5: a property the packet needs is absent (AUTH's Authentication Method; Authentication Data without it). */
  MissingProperty: "MissingProperty",
  /** MQTT 5: a reason code this packet may not carry (§2.4). */
  InvalidReasonCode: "InvalidReasonCode",
} as const);
export type ProtocolCode = (typeof ProtocolCode)[keyof typeof ProtocolCode];

/** Codes of {@link MqttError}: the application asked for something that cannot be done. */
export const ErrorCode = Object.freeze({
  /** The packet does not fit the buffer it was to be written into. */
  BufferTooSmall: "BufferTooSmall",
  /** The packet exceeds the configured maximum or MQTT's 256 MiB limit. */
  PacketTooLarge: "PacketTooLarge",
  /** Topic name empty, over 65535 bytes, or containing `+`/`#` (§4.7). */
  InvalidTopic: "InvalidTopic",
  /** Topic filter with a misplaced wildcard (§4.7.1). */
  InvalidTopicFilter: "InvalidTopicFilter",
  /** QoS other than 0, 1 or 2 (or 2 where this client publishes only 0 and 1). */
  InvalidQoS: "InvalidQoS",
  /** A string that cannot be sent as MQTT UTF-8 (lone surrogate, U+0000). */
  InvalidString: "InvalidString",
  /** A field outside its range (packet id, keepalive, options). */
  InvalidArgument: "InvalidArgument",
  /** The offline queue has no room for the message (policy "refuse"). */
  QueueFull: "QueueFull",
  /** The client was closed by the application. */
  Closed: "Closed",
  /** The broker refused the connection; see `returnCode`. */
  ConnectionRefused: "ConnectionRefused",
  /** The broker refused a subscription (SUBACK 0x80). */
  SubscriptionRefused: "SubscriptionRefused",
  /** An established connection ended: the broker closed it or the network broke. */
  ConnectionLost: "ConnectionLost",
  /** No PINGRESP arrived before the deadline. */
  KeepaliveTimeout: "KeepaliveTimeout",
  /** No CONNACK arrived before the deadline. */
  ConnectTimeout: "ConnectTimeout",
  /** The transport could not be opened, or failed before CONNACK (DNS, TCP, TLS). */
  TransportError: "TransportError",
  /**
   * The broker closed the connection in order after our CONNECT, before any CONNACK: a
   * broker that will not have this client (a 3.1.1 broker refusing MQTT 5 may do so). A
   * reset or a TLS alert then is a TransportError.
   */
  NoConnack: "NoConnack",
  /** The peer broke the protocol; the connection was closed. */
  ProtocolError: "ProtocolError",
  /** An application handler (a subscription's handler or `onMessage`) threw; the client carried on. */
  HandlerError: "HandlerError",
  /**
   * An inbound QoS 2 message came while the table of ids awaiting PUBREL (option
   * `inboundQos2`) was full: it was neither delivered nor acknowledged, and the client
   * reconnects so a broker keeping the session sends it again.
   */
  InboundQos2Full: "InboundQos2Full",
  /** MQTT 5: the broker refused a message (PUBACK or PUBREC reason code 0x80 or above); see `reasonCode`. Not retried. */
  PublishRefused: "PublishRefused",
  /** MQTT 5: the broker ended the connection with a DISCONNECT; see `reasonCode` and `reasonString`. */
  ServerDisconnect: "ServerDisconnect",
  /** MQTT 5: the broker does not take it: a QoS above its Maximum QoS, or a retained message where Retain Available is 0. */
  NotSupported: "NotSupported",
} as const);
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * An error the application can act on; `code` says which.
 *
 * `name` is a class field, defined on the instance: on Moddable the built-in prototypes
 * are frozen after preload, so assigning `this.name` (which would write through to the
 * read-only `Error.prototype.name`) throws there.
 */
export class MqttError extends Error {
  override name = "MqttError";
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * The peer sent something MQTT 3.1.1 forbids. A decoder that raised it refuses further
 * input until reset; a client that meets it closes the connection and reconnects.
 */
export class ProtocolError extends MqttError {
  override name = "ProtocolError";
  override readonly code: ProtocolCode;
  constructor(code: ProtocolCode, message: string) {
    super(code, message);
    this.code = code;
  }
}

/** CONNACK return codes 1-5 (§3.2.2.3), by number. */
export const ConnackReason: readonly string[] = Object.freeze([
  "accepted",
  "unacceptable protocol version",
  "identifier rejected",
  "server unavailable",
  "bad user name or password",
  "not authorized",
]);

/** Reason codes with which a broker refuses a connection the same way whatever the retry (§3.2.2.2): these back off longest. */
export function refusalIsPermanent(reasonCode: number): boolean {
  // bad user name or password, not authorized, banned, bad authentication method,
  // client identifier not valid, unsupported protocol version
  return reasonCode === 0x86 || reasonCode === 0x87 || reasonCode === 0x8a || reasonCode === 0x8c || reasonCode === 0x85 || reasonCode === 0x84;
}

/** DISCONNECT reason codes that tell a client to go away for a while (§3.14.2.1): the reconnect backs off longest. */
export function disconnectIsGoAway(reasonCode: number): boolean {
  // not authorized, banned, session taken over (no tug of war with the other client),
  // administrative action, use another server, server moved
  return reasonCode === 0x87 || reasonCode === 0x8a || reasonCode === 0x8e || reasonCode === 0x98 || reasonCode === 0x9c || reasonCode === 0x9d;
}

/**
 * The broker refused the connection: a 3.1.1 CONNACK return code 1-5 (`returnCode`), or a
 * 5.0 CONNACK reason code of 0x80 or above (`reasonCode`, its name in the message, and the
 * broker's Reason String when it sent one). `returnCode` is the byte either way.
 */
export class ConnectionRefusedError extends MqttError {
  override name = "ConnectionRefusedError";
  readonly returnCode: number;
  /** The 5.0 reason code; -1 for a 3.1.1 return code. */
  readonly reasonCode: number;
  readonly reasonString: string | null;
  constructor(returnCode: number, reasonName: string | null = null, reasonString: string | null = null) {
    super(
      ErrorCode.ConnectionRefused,
      reasonName === null
        ? `connection refused: ${ConnackReason[returnCode] ?? "unknown"} (${returnCode})`
        : `connection refused: ${reasonName} (0x${returnCode.toString(16)})${reasonString ? `: ${reasonString}` : ""}`,
    );
    this.returnCode = returnCode;
    this.reasonCode = reasonName === null ? -1 : returnCode;
    this.reasonString = reasonString;
  }
}

/** An MQTT 5 failure the broker named with a reason code (and perhaps a Reason String): a refused message, a server DISCONNECT. */
export class ReasonCodeError extends MqttError {
  override name = "ReasonCodeError";
  readonly reasonCode: number;
  readonly reasonString: string | null;
  constructor(code: string, what: string, reasonCode: number, reasonName: string, reasonString: string | null) {
    super(code, `${what}: ${reasonName} (0x${reasonCode.toString(16)})${reasonString ? `: ${reasonString}` : ""}`);
    this.reasonCode = reasonCode;
    this.reasonString = reasonString;
  }
}
