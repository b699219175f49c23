/**
 * An inbound message as the client hands it to the application: one object, refilled for
 * every message, whose topic and payload are views into the receive buffer. Nothing is
 * allocated unless the application asks for a string or a copy.
 */
import type { Packet } from "./packet.js";
import { decodeUtf8, utf8Equals } from "./utf8.js";

const EMPTY = new Uint8Array(0);

export class Message {
  /** The bytes the offsets index; valid only during the handler call. */
  data: Uint8Array = EMPTY;
  topicStart = 0;
  topicLength = 0;
  /** This fragment of the payload: `data[payloadStart, payloadEnd)`. */
  payloadStart = 0;
  payloadEnd = 0;
  /** Where this fragment starts within the whole payload (0 unless fragmented). */
  payloadOffset = 0;
  /** The whole payload's size. */
  payloadLength = 0;
  /** More fragments of this message follow (only when it is larger than the receive buffer). */
  more = false;
  qos = 0;
  retain = false;
  dup = false;
  packetId = 0;

  /** @internal Fills the record from a decoded PUBLISH. */
  fill(p: Packet): void {
    this.data = p.data;
    this.topicStart = p.topicStart;
    this.topicLength = p.topicLength;
    this.payloadStart = p.payloadStart;
    this.payloadEnd = p.payloadEnd;
    this.payloadOffset = p.payloadOffset;
    this.payloadLength = p.payloadLength;
    this.more = p.more;
    this.qos = p.qos;
    this.retain = p.retain;
    this.dup = p.dup;
    this.packetId = p.packetId;
  }

  /** The topic as a string (allocates). */
  get topic(): string {
    return decodeUtf8(this.data, this.topicStart, this.topicStart + this.topicLength);
  }

  /** Whether the topic is exactly `topic`, compared as UTF-8 without making a string. */
  topicIs(topic: string): boolean {
    return utf8Equals(this.data, this.topicStart, this.topicLength, topic);
  }

  /** This fragment's payload as UTF-8 text (allocates). */
  text(): string {
    return decodeUtf8(this.data, this.payloadStart, this.payloadEnd);
  }

  /** A copy of this fragment's payload (allocates). */
  bytes(): Uint8Array {
    return this.data.slice(this.payloadStart, this.payloadEnd);
  }
}
