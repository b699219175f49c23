/**
 * An inbound message as the client hands it to the application: one object, refilled for
 * every message, whose topic and payload are views into the receive buffer. Nothing is
 * allocated unless the application asks for a string or a copy.
 */
import { Packet } from "./packet.js";
import { decodeUtf8, utf8Equals } from "./utf8.js";

/**
 * The client's decoder fills this record in place for every inbound PUBLISH (it is the
 * decoder's packet record, so nothing is copied between them). The fields that matter to
 * an application: `data`, `topicData` with `topicStart`/`topicLength`, `payloadStart`/`payloadEnd` (this
 * fragment), `payloadOffset`, `payloadLength` (the whole payload), `more`, `qos`,
 * `retain`, `dup`, `packetId`. All views are valid only during the handler call.
 */
export class Message extends Packet {
  /** The topic as a string (allocates). */
  get topic(): string {
    return decodeUtf8(this.topicData, this.topicStart, this.topicStart + this.topicLength);
  }

  /** Whether the topic is exactly `topic`, compared as UTF-8 without making a string. */
  topicIs(topic: string): boolean {
    return utf8Equals(this.topicData, this.topicStart, this.topicLength, topic);
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
