/**
 * MQTT control packet types (3.1.1 and 5.0, §2.2.1) and the decoded-packet record the
 * decoder fills in place.
 */

/** Control packet types, the high nibble of the first byte (§2.2.1). */
export const PacketType = Object.freeze({
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  /** MQTT 5.0 only (§3.15). */
  AUTH: 15,
} as const);

/**
 * The first byte of each packet type as this side writes it: the type in the high nibble
 * and the flags §2.2.2 requires in the low one (PUBREL, SUBSCRIBE and UNSUBSCRIBE 0b0010).
 * PUBLISH's entry is its base, DUP, QoS and RETAIN 0; type 0 is reserved, and 15 (AUTH) is
 * MQTT 5.0's only (the 3.1.1 decoder refuses it).
 * The encoder, the decoder's flag checks and the client's publish header all read this.
 */
export const FIRST_BYTE: readonly number[] = Object.freeze([0, 0x10, 0x20, 0x30, 0x40, 0x50, 0x62, 0x70, 0x82, 0x90, 0xa2, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0]);

/** PUBLISH first-byte flags (§3.3.1): plain constants, as the hot paths read them. */
export const PUBLISH_RETAIN = 0x01;
/** The QoS bits: `qos << 1`. */
export const PUBLISH_QOS_MASK = 0x06;
export const PUBLISH_DUP = 0x08;

/** Packet type names by number, for messages and tools. */
export const PacketName: readonly string[] = Object.freeze([
  "reserved",
  "connect",
  "connack",
  "publish",
  "puback",
  "pubrec",
  "pubrel",
  "pubcomp",
  "subscribe",
  "suback",
  "unsubscribe",
  "unsuback",
  "pingreq",
  "pingresp",
  "disconnect",
  "auth",
]);

import type { Properties } from "./properties.js";

const EMPTY = new Uint8Array(0);

/**
 * One decoded packet. The decoder owns a single instance and refills it for every packet,
 * so the handler must copy anything it keeps: the `*Start` offsets index `data`, which is
 * the decoder's receive buffer or the caller's chunk and is only valid during the call.
 *
 * A PUBLISH larger than the receive buffer arrives as several calls, one per payload
 * fragment: `payloadOffset` is where the fragment starts in the whole payload,
 * `payloadLength` the whole payload's size, and `more` is false on the last one. Topic,
 * QoS and packet id are the same on each.
 */
export class Packet {
  /** {@link PacketType} value. */
  type = 0;
  /** Low nibble of the first byte. */
  flags = 0;
  remainingLength = 0;
  /** The bytes the offsets below index. */
  data: Uint8Array = EMPTY;
  /** Packet identifier, 0 where the packet has none. */
  packetId = 0;

  // PUBLISH
  qos = 0;
  dup = false;
  retain = false;
  /** The bytes `topicStart` indexes: `data`, or (MQTT 5, an inbound Topic Alias) the client's alias table. */
  topicData: Uint8Array = EMPTY;
  topicStart = 0;
  topicLength = 0;
  /** This fragment of the payload is `data[payloadStart, payloadEnd)`. */
  payloadStart = 0;
  payloadEnd = 0;
  /** Whole payload size, in bytes. */
  payloadLength = 0;
  /** Offset of this fragment within the whole payload. */
  payloadOffset = 0;
  /** More fragments of this PUBLISH follow. */
  more = false;
  /**
   * With a decoder topic cache: the cache slot holding this PUBLISH's topic, -1 when not
   * kept (`Decoder.topics.keys[slot]` changes whenever the slot takes another topic).
   */
  topicSlot = -1;

  // CONNACK
  sessionPresent = false;

  /**
   * CONNACK's return code (3.1.1), and 5.0's reason code of CONNACK, PUBACK, PUBREC,
   * PUBREL, PUBCOMP, DISCONNECT and AUTH (0 where the short form leaves it out).
   */
  reasonCode = 0;

  // MQTT 5.0
  /**
   * MQTT 5.0: the packet's properties, walked in place (for CONNECT, those of the
   * connection; the will's are in `willProperties`). Null on a 3.1.1 decoder, which makes it.
   */
  properties: Properties | null = null;

  /** CONNACK's return code under its 3.1.1 name: `reasonCode`. */
  get returnCode(): number {
    return this.reasonCode;
  }

  // SUBSCRIBE, SUBACK, UNSUBSCRIBE and (5.0) UNSUBACK keep their entry lists in data[payloadStart, payloadEnd).
}

/**
 * A decoded CONNECT: the decoder delivers CONNECT in a record of its own, made at the first
 * one (a client never receives CONNECT, so its record does not carry these fields). A
 * length of -1 means the field is absent.
 */
export class ConnectPacket extends Packet {
  protocolLevel = 0;
  connectFlags = 0;
  keepalive = 0;
  clientIdStart = 0;
  clientIdLength = 0;
  willTopicStart = 0;
  willTopicLength = -1;
  willPayloadStart = 0;
  willPayloadLength = -1;
  usernameStart = 0;
  usernameLength = -1;
  passwordStart = 0;
  passwordLength = -1;
  /** MQTT 5.0: the will's properties, when there is a will. */
  willProperties: Properties | null = null;
}
