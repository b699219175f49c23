/**
 * Publish topics, validated and encoded once: each keeps its UTF-8 and the start of a QoS 0
 * PUBLISH (fixed header, remaining length, topic, and under MQTT 5 an empty property block)
 * made for one payload length, so that a
 * repeated publish writes that header as it is and only the payload follows.
 */
import { header, measurePublish, topicNameLength, type PublishSize } from "./encode.js";
import { FIRST_BYTE, PacketType } from "./packet.js";
import { writeUtf8 } from "./utf8.js";

export class TopicHead {
  /** [first byte][remaining length, 1-4 bytes] ending at index 4, then [topic length][topic]. */
  private readonly buf: Uint8Array;
  /** The topic's UTF-8 (a view of `buf`). */
  readonly bytes: Uint8Array;
  /** `buf` from the first byte on, by width of the remaining length: each made once. */
  private readonly heads: (Uint8Array | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  /**
   * The packet up to its payload, for `payload` bytes of payload (with the topic, or under
   * MQTT 5 the short head {@link prepareShort} made); its first byte is the caller's to set.
   */
  head: Uint8Array;
  /** The payload length `head` is made for; -1 before the first. */
  payload = -1;

  /** 1 under MQTT 5: the head ends with an empty property block (a Property Length of 0). */
  private readonly tail: number;

  /** Where this head sits in the client's list of heads (for outbox entries to name it). */
  index = 0;
  /**
   * MQTT 5 outbound Topic Alias, for the connection numbered `aliasGen` only: 0 until the
   * topic repeats on it, then the alias once a PUBLISH carrying topic and alias has been
   * sent (the mapping is made), or -1 when none was free.
   */
  alias = 0;
  aliasGen = 0;
  /** The QoS 0 head with an empty topic and the alias (made when first needed), and its views by width of the remaining length. */
  private short: Uint8Array | null = null;
  private readonly shorts: (Uint8Array | undefined)[] = [undefined, undefined, undefined, undefined, undefined];

  /** Throws `InvalidTopic` unless `topic` is a valid topic name. `v5`: heads of MQTT 5 PUBLISHes without properties. */
  constructor(topic: string, v5 = false) {
    const n = topicNameLength(topic, "topic name:");
    const tail = (this.tail = v5 ? 1 : 0);
    const b = (this.buf = new Uint8Array(7 + n + tail)); // a v5 head's last byte stays 0
    b[5] = n >> 8;
    b[6] = n & 0xff;
    writeUtf8(b, 7, topic);
    this.bytes = b.subarray(7, 7 + n);
    this.head = b;
  }

  /**
   * Makes `head` right for a QoS 0 payload of `payload` bytes; false (and `head` left as
   * it was) when the packet would be larger than `limit`. `size` is scratch for the sizes.
   */
  prepare(payload: number, limit: number, size: PublishSize): boolean {
    const total = measurePublish(size, this.bytes.length, 0, payload + this.tail);
    if (total > limit) return false;
    const remaining = size.remaining;
    const v = total - remaining - 1; // the remaining length's varint
    header(this.buf, 4 - v, FIRST_BYTE[PacketType.PUBLISH], remaining);
    let head = this.heads[v];
    if (head === undefined) head = this.heads[v] = this.buf.subarray(4 - v);
    this.head = head;
    this.payload = payload;
    return true;
  }

  /**
   * Makes `head` the short head, right for a QoS 0 payload of `payload` bytes under the Topic
   * Alias in `alias`: [first byte][remaining length][00 00][Property Length 3][0x23 alias].
   * Returns false, and changes nothing, when that PUBLISH would be larger than `limit`.
   */
  prepareShort(payload: number, limit: number, size: PublishSize): boolean {
    const total = measurePublish(size, 0, 0, payload + 4);
    if (total > limit) return false;
    let b = this.short;
    if (b === null) {
      b = this.short = new Uint8Array(11);
      b[7] = 3;
      b[8] = 0x23; // Topic Alias
    }
    b[9] = this.alias >> 8;
    b[10] = this.alias & 0xff;
    const v = total - size.remaining - 1;
    header(b, 4 - v, FIRST_BYTE[PacketType.PUBLISH], size.remaining);
    let head = this.shorts[v];
    if (head === undefined) head = this.shorts[v] = b.subarray(4 - v);
    this.head = head;
    this.payload = payload;
    return true;
  }
}

/**
 * The head of `topic` from `heads`, or validated, encoded and added to it; `heads` is
 * emptied first when it already holds `limit` topics. Throws `InvalidTopic`.
 */
export function headFor(heads: Map<string, TopicHead>, topic: string, limit: number, v5 = false): TopicHead {
  let th = heads.get(topic);
  if (th === undefined) {
    th = new TopicHead(topic, v5); // throws InvalidTopic
    if (heads.size >= limit) heads.clear();
    th.index = heads.size;
    heads.set(topic, th);
  }
  return th;
}
