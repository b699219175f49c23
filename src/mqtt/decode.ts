/**
 * Streaming MQTT 3.1.1 and 5.0 decoder over one fixed receive buffer.
 *
 * Bytes go in by {@link Decoder.push} in chunks of any size; every complete packet comes
 * out through {@link PacketHandler.onPacket} as the decoder's one {@link Packet} record,
 * refilled in place. A packet that arrives whole inside one chunk is parsed where it lies,
 * with no copy; a split packet is gathered in the receive buffer. A PUBLISH larger than the
 * buffer is delivered in payload fragments, so memory never exceeds the configured size.
 * Steady-state decoding allocates nothing.
 *
 * The protocol version is the connection's: 3.1.1 unless `protocolVersion: 5` is given or
 * set with {@link Decoder.setVersion}; a valid CONNECT sets it from its protocol level (only
 * a broker or a tool receives CONNECT), and {@link Decoder.reset} restores the one given.
 * Under 5.0 each property block is walked once where it lies (see properties.ts): checked
 * for what the packet may carry, repeats and ranges, and recorded as offsets.
 */
import { ProtocolCode as C, ProtocolError } from "./errors.js";
import { ConnectPacket, FIRST_BYTE, Packet, PacketType as T, PacketName, PUBLISH_DUP, PUBLISH_QOS_MASK, PUBLISH_RETAIN } from "./packet.js";
import { Properties, PROP_IN, PROP_INDEX, PROP_REPEATS, PropType, propertyName, readVarint, USER_AT, USER_BIT, WILL } from "./properties.js";
import { reasonAllowed } from "./reasons.js";
import { isValidFilterUtf8 } from "./topic.js";
import { TopicCache } from "./topic-cache.js";
import { scanUtf8, UTF8_MALFORMED } from "./utf8.js";

/** Receives decoded packets. The packet record and the bytes it points at are valid only during the call. */
export interface PacketHandler {
  onPacket(packet: Packet): void;
}

const S_HEADER = 0;
const S_LENGTH = 1;
const S_BODY = 2;
const S_PUB_HEAD = 3;
const S_PUB_STREAM = 4;
const S_FAILED = 5;

/**
 * Required remaining length per type, -1 where it varies (§3.x.1). Types 0 and 15 are
 * rejected before this table is read.
 */
const FIXED_LENGTH: readonly number[] = Object.freeze([-1, -1, 2, -1, 2, 2, 2, 2, -1, -1, -1, 2, 0, 0, 0, -1]);
/** The same for MQTT 5.0, where acks, DISCONNECT and AUTH carry reason codes and properties. */
const FIXED_LENGTH_5: readonly number[] = Object.freeze([-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, -1, -1]);

/**
 * 1 for each first byte 3.1.1 allows: a defined type with the flags §2.2.2 requires (the
 * low nibble of {@link FIRST_BYTE}), or a PUBLISH whose QoS is not 3.
 */
const FIRST_BYTE_OK = new Uint8Array(256);
for (let b = 0x10; b < 0xf0; b++) {
  const type = b >> 4;
  FIRST_BYTE_OK[b] = (type === T.PUBLISH ? (b & PUBLISH_QOS_MASK) !== PUBLISH_QOS_MASK : b === FIRST_BYTE[type]) ? 1 : 0;
}
/** The same for MQTT 5.0, which adds AUTH (0xf0). */
const FIRST_BYTE_OK_5 = FIRST_BYTE_OK.slice();
FIRST_BYTE_OK_5[FIRST_BYTE[T.AUTH]] = 1;

export interface DecoderOptions {
  /** The record to fill, when the caller wants its own (the client's Message is one). */
  packet?: Packet;
  /** Recent valid topics kept so a repeated one is not checked again (0, the default, keeps none). */
  topicCache?: number;
  /** Longest topic the cache keeps, in bytes. Default 128. */
  topicCacheLength?: number;
  /** 4 (MQTT 3.1.1, the default) or 5. */
  protocolVersion?: number;
  /** MQTT 5: the Topic Alias Maximum this side announced; a larger alias is refused. Default 0. */
  topicAliasMaximum?: number;
}

export class Decoder {
  /** The receive buffer: split packets and payload fragments are gathered here. */
  readonly buffer: Uint8Array;
  /** The record every packet is delivered in. */
  readonly packet: Packet;
  /** Recently seen topics, or null. */
  readonly topics: TopicCache | null;
  private handler: PacketHandler;
  private state = S_HEADER;
  private first = 0;
  private remaining = 0;
  private shift = 0;
  private lengthBytes = 0;
  /** Bytes of the current packet's body held in `buffer`. */
  private fill = 0;
  /** Oversize PUBLISH: bytes of the variable header, and payload bytes still to come. */
  private headLength = 0;
  private payloadLeft = 0;
  private failure: ProtocolError | null = null;
  /** Oversize PUBLISH head: bytes to gather before it can be measured further; where its Property Length starts. */
  private headWant = 2;
  private headBase = 0;
  private v5 = false;
  private firstOk = FIRST_BYTE_OK;
  private fixedLength = FIXED_LENGTH;
  /** MQTT 5: the largest Topic Alias the peer may use (the Topic Alias Maximum this side announced). */
  topicAliasMaximum: number;

  /**
   * @param buffer the receive buffer, or its size in bytes; the largest non-PUBLISH packet
   *   and the largest PUBLISH topic it can hold, and the fragment size for larger payloads.
   */
  constructor(buffer: Uint8Array | number, handler: PacketHandler, options: DecoderOptions = {}) {
    this.buffer = typeof buffer === "number" ? new Uint8Array(buffer) : buffer;
    if (this.buffer.length < 8) throw new RangeError("receive buffer must be at least 8 bytes");
    this.handler = handler;
    this.packet = options.packet ?? new Packet();
    const slots = options.topicCache ?? 0;
    this.topics = slots > 0 ? new TopicCache(slots, options.topicCacheLength ?? 128, this.buffer) : null;
    this.topicAliasMaximum = options.topicAliasMaximum ?? 0;
    this.initialVersion = options.protocolVersion ?? 4;
    this.setVersion(this.initialVersion);
  }

  /** The version given at construction, which {@link reset} restores. */
  private readonly initialVersion: number;

  /** The protocol version packets are decoded as: 4 (3.1.1) or 5. */
  get version(): number {
    return this.v5 ? 5 : 4;
  }

  /** Decodes what follows as MQTT 3.1.1 (4) or 5.0 (5); for a new connection, with {@link reset}. */
  setVersion(version: number): void {
    if (version !== 4 && version !== 5) throw new RangeError(`protocol version must be 4 or 5, not ${version}`);
    const v5 = version === 5;
    this.v5 = v5;
    this.firstOk = v5 ? FIRST_BYTE_OK_5 : FIRST_BYTE_OK;
    this.fixedLength = v5 ? FIXED_LENGTH_5 : FIXED_LENGTH;
    if (v5) {
      // the topic cache keeps property blocks with topics, and the walks' offsets through this
      // record's view (a record made elsewhere, a caller's packet, gets none kept)
      this.topics?.enableBlocks();
      if (this.packet.properties === null) this.packet.properties = new Properties(this.topics?.at);
    }
  }

  /** The error that stopped this decoder, or null. */
  get error(): ProtocolError | null {
    return this.failure;
  }

  /** Forgets any partial packet and a past error, and a version a CONNECT set; call on a new connection. */
  reset(): void {
    this.state = S_HEADER;
    this.failure = null;
    this.fill = 0;
    this.headLength = 0;
    if (this.version !== this.initialVersion) this.setVersion(this.initialVersion);
  }

  /**
   * Feeds `chunk[start, end)`. Calls the handler for each packet completed. Throws
   * {@link ProtocolError} on bytes MQTT 3.1.1 forbids, and again on every later call until
   * {@link reset}. Exceptions thrown by the handler pass through unchanged.
   */
  push(chunk: Uint8Array, start = 0, end = chunk.length): void {
    if (this.state === S_FAILED) throw this.failure!;
    let i = start;
    const buf = this.buffer;
    while (i < end) {
      switch (this.state) {
        case S_HEADER: {
          const b = chunk[i];
          if (this.firstOk[b] === 0) this.badFirstByte(b);
          this.first = b;
          // fast path: a packet with a one- or two-byte length that lies whole in this chunk
          const b1 = chunk[i + 1];
          if (b1 < 0x80) {
            if (end - i - 2 >= b1 && b1 <= buf.length) {
              this.parse(chunk, i + 2, i + 2 + b1);
              i += 2 + b1;
              break;
            }
          } else if (i + 2 < end) {
            const b2 = chunk[i + 2];
            const n = (b1 & 0x7f) | (b2 << 7);
            if (b2 < 0x80 && end - i - 3 >= n && n <= buf.length) {
              this.parse(chunk, i + 3, i + 3 + n);
              i += 3 + n;
              break;
            }
          }
          i++;
          this.remaining = 0;
          this.shift = 0;
          this.lengthBytes = 0;
          this.state = S_LENGTH;
          break;
        }
        case S_LENGTH: {
          const b = chunk[i++];
          this.remaining += (b & 0x7f) * 2 ** this.shift;
          this.shift += 7;
          if (b & 0x80) {
            if (++this.lengthBytes === 4) this.fail(C.MalformedRemainingLength, "remaining length has more than four bytes");
            break;
          }
          const type = this.first >> 4;
          const n = this.remaining;
          const fixed = this.fixedLength[type];
          if (fixed >= 0 && n !== fixed) this.fail(C.InvalidLength, `${PacketName[type]} remaining length must be ${fixed}, not ${n}`);
          this.fill = 0;
          if (n === 0) {
            this.state = S_HEADER;
            this.parse(chunk, i, i);
          } else if (n <= buf.length) this.state = S_BODY;
          else if (type === T.PUBLISH) {
            this.headLength = 0;
            this.headWant = 2;
            this.state = S_PUB_HEAD;
          }
          else this.fail(C.PacketTooLarge, `${PacketName[type]} of ${n} bytes exceeds the ${buf.length}-byte receive buffer`);
          break;
        }
        case S_BODY: {
          const n = this.remaining;
          if (this.fill === 0 && end - i >= n) {
            // the whole body is in this chunk: parse it in place
            this.state = S_HEADER;
            this.parse(chunk, i, i + n);
            i += n;
            break;
          }
          i = this.gather(chunk, i, end, n);
          if (this.fill === n) {
            this.state = S_HEADER;
            this.parse(buf, 0, n);
          }
          break;
        }
        case S_PUB_HEAD: {
          // gather the topic length, then topic and packet id (and under 5.0 the Property Length, then the properties)
          i = this.gather(chunk, i, end, this.headLength > 0 ? this.headLength : this.headWant);
          if (this.headLength === 0 && this.fill === this.headWant) this.measureHead();
          if (this.headLength > 0 && this.fill === this.headLength) {
            this.publishHead(buf, 0, this.remaining, this.fill);
            this.payloadLeft = this.remaining - this.headLength;
            this.packet.payloadOffset = 0;
            this.state = S_PUB_STREAM;
          }
          break;
        }
        case S_PUB_STREAM: {
          const room = buf.length - this.fill;
          const want = this.payloadLeft < room ? this.payloadLeft : room;
          const before = i;
          i = this.gather(chunk, i, end, this.fill + want);
          this.payloadLeft -= i - before;
          if (this.fill === buf.length || this.payloadLeft === 0) {
            const p = this.packet;
            p.data = buf;
            p.payloadStart = this.headLength;
            p.payloadEnd = this.fill;
            p.more = this.payloadLeft > 0;
            if (!p.more) {
              this.state = S_HEADER;
              this.headLength = 0;
            }
            this.handler.onPacket(p);
            p.payloadOffset += this.fill - this.headLength;
            this.fill = this.headLength;
          }
          break;
        }
      }
    }
  }

  /**
   * Oversize PUBLISH: works out how much of the head to gather from the `fill` bytes held,
   * setting `headLength` once it is known, else `headWant`.
   */
  private measureHead(): void {
    const buf = this.buffer;
    const fill = this.fill;
    const n = this.remaining;
    if (fill === 2) {
      const h = 2 + ((buf[0] << 8) | buf[1]) + (this.first & PUBLISH_QOS_MASK ? 2 : 0);
      if (h > n) this.fail(C.LengthOverrun, "PUBLISH topic runs past the end of the packet");
      if (h >= buf.length) this.fail(C.PacketTooLarge, `PUBLISH topic of ${h - 2} bytes does not fit the ${buf.length}-byte receive buffer`);
      if (!this.v5) {
        this.headLength = h;
        return;
      }
      if (h === n) this.fail(C.PropertyOverrun, "PUBLISH ends before its Property Length");
      this.headBase = h;
      this.headWant = h + 1;
      return;
    }
    // 5.0: the Property Length so far is buf[headBase, fill)
    if (buf[fill - 1] & 0x80) {
      if (fill - this.headBase === 4) this.fail(C.MalformedVarint, "PUBLISH Property Length has more than four bytes");
      if (fill === n) this.fail(C.PropertyOverrun, "PUBLISH ends inside its Property Length");
      if (fill + 1 >= buf.length) this.fail(C.PacketTooLarge, `PUBLISH head does not fit the ${buf.length}-byte receive buffer`);
      this.headWant = fill + 1;
      return;
    }
    const h = fill + readVarint(buf, this.headBase);
    if (h > n) this.fail(C.PropertyOverrun, "PUBLISH properties run past the end of the packet");
    if (h >= buf.length) this.fail(C.PacketTooLarge, `PUBLISH topic and properties (${h} bytes) do not fit the ${buf.length}-byte receive buffer`);
    this.headLength = h;
  }

  private badFirstByte(b: number): never {
    const type = b >> 4;
    if (type === 0 || (type === 15 && !this.v5)) this.fail(C.UnknownPacketType, `reserved packet type ${type} (first byte 0x${hex2(b)})`);
    if (type === T.PUBLISH) this.fail(C.InvalidQoS, "PUBLISH with QoS 3");
    this.fail(C.InvalidFlags, `${PacketName[type]} flags must be ${FIRST_BYTE[type] & 15}, not ${b & 15}`);
  }

  /** Copies from the chunk into the buffer until it holds `upTo` bytes; returns the new chunk index. */
  private gather(chunk: Uint8Array, i: number, end: number, upTo: number): number {
    const buf = this.buffer;
    let fill = this.fill;
    let stop = i + (upTo - fill);
    if (stop > end) stop = end;
    while (i < stop) buf[fill++] = chunk[i++];
    this.fill = fill;
    return i;
  }

  private fail(code: C, message: string): never {
    this.state = S_FAILED;
    this.failure = new ProtocolError(code, message);
    throw this.failure;
  }

  private u16(d: Uint8Array, o: number): number {
    return (d[o] << 8) | d[o + 1];
  }

  /** Reads a packet id at `o`; 0 is refused (§2.3.1). */
  private id(d: Uint8Array, o: number, type: number): void {
    const id = (d[o] << 8) | d[o + 1];
    if (id === 0) this.fail(C.InvalidPacketId, `${PacketName[type]} with packet id 0`);
    this.packet.packetId = id;
  }

  /**
   * Parses one whole packet body `d[s, e)` (no larger than the receive buffer: larger
   * ones take the general path so a PUBLISH streams in fragments), then hands it to the
   * handler.
   */
  private parse(d: Uint8Array, s: number, e: number): void {
    const p = this.packet;
    const type = this.first >> 4;
    if (type === T.PUBLISH) {
      p.payloadStart = s + this.publishHead(d, s, e - s, e);
      p.payloadEnd = e;
      p.payloadOffset = 0;
      p.more = false;
      this.handler.onPacket(p);
      return;
    }
    const fixed = this.fixedLength[type];
    if (fixed >= 0 && e - s !== fixed) this.fail(C.InvalidLength, `${PacketName[type]} remaining length must be ${fixed}, not ${e - s}`);
    p.type = type;
    p.flags = this.first & 15;
    p.remainingLength = e - s;
    p.data = d;
    p.packetId = 0;
    p.reasonCode = 0;
    if (this.v5 && type !== T.CONNECT) {
      this.parse5(d, s, e, type);
      this.handler.onPacket(p);
      return;
    }
    switch (type) {
      case T.PUBACK:
      case T.PUBREC:
      case T.PUBREL:
      case T.PUBCOMP:
      case T.UNSUBACK:
        this.id(d, s, type);
        break;
      case T.CONNACK: {
        const f = d[s];
        if (f & 0xfe) this.fail(C.InvalidFlags, `CONNACK acknowledge flags must be 0 or 1, not ${f}`);
        const rc = d[s + 1];
        if (rc > 5) this.fail(C.InvalidReturnCode, `CONNACK return code ${rc} is not 0-5`);
        p.sessionPresent = f === 1;
        p.reasonCode = rc;
        break;
      }
      case T.SUBACK:
        this.list(d, s, e, type);
        for (let k = p.payloadStart; k < e; k++) {
          const rc = d[k];
          if (rc > 2 && rc !== 0x80) this.fail(C.InvalidReturnCode, `SUBACK return code 0x${hex2(rc)} is not 0, 1, 2 or 0x80`);
        }
        break;
      case T.SUBSCRIBE:
      case T.UNSUBSCRIBE:
        this.list(d, s, e, type);
        this.filters(d, p.payloadStart, e, type);
        break;
      case T.CONNECT:
        // its own record, made at the first CONNECT: only a broker or a tool decodes one
        this.handler.onPacket(this.connect(d, s, e));
        return;
      // PINGREQ, PINGRESP, DISCONNECT: length checked already
    }
    this.handler.onPacket(p);
  }

  /** Checks the SUBSCRIBE or UNSUBSCRIBE entries `d[k, e)`: filters, and SUBSCRIBE's options (5.0's when decoding 5.0). */
  private filters(d: Uint8Array, k: number, e: number, type: number): void {
    const qosBytes = type === T.SUBSCRIBE ? 1 : 0;
    while (k < e) {
      if (k + 2 > e) this.fail(C.LengthOverrun, `${PacketName[type]} entry runs past the end of the packet`);
      const n = this.u16(d, k);
      k += 2;
      if (k + n + qosBytes > e) this.fail(C.LengthOverrun, `${PacketName[type]} topic filter runs past the end of the packet`);
      if (n === 0 || !isValidFilterUtf8(d, k, k + n)) {
        if (scanUtf8(d, k, k + n) === UTF8_MALFORMED) this.fail(C.MalformedUtf8, "topic filter is not well-formed UTF-8");
        this.fail(C.InvalidTopicFilter, "topic filter is empty or has a misplaced wildcard");
      }
      const filter = k;
      k += n;
      if (qosBytes) {
        const q = d[k++];
        if (q & (this.v5 ? 0xc0 : 0xfc)) this.fail(C.InvalidFlags, `SUBSCRIBE options reserved bits set (0x${hex2(q)})`);
        if ((q & 3) === 3) this.fail(C.InvalidQoS, "SUBSCRIBE requests QoS 3");
        if (((q >> 4) & 3) === 3) this.fail(C.InvalidFlags, "SUBSCRIBE Retain Handling 3 (§3.8.3.1)");
        // §3.8.3.1: No Local on a shared subscription ("$share/...") is a Protocol Error
        if (q & 4 && n > 7 && d[filter] === 0x24 && d[filter + 1] === 0x73 && d[filter + 2] === 0x68 && d[filter + 3] === 0x61 && d[filter + 4] === 0x72 && d[filter + 5] === 0x65 && d[filter + 6] === 0x2f)
          this.fail(C.InvalidFlags, "SUBSCRIBE No Local on a shared subscription (§3.8.3.1)");
      }
    }
  }

  /**
   * MQTT 5.0 bodies of every type but PUBLISH and CONNECT (§3.2-§3.15): packet id, reason
   * code and properties where the type has them, then SUBSCRIBE's, SUBACK's, UNSUBSCRIBE's
   * and UNSUBACK's lists.
   */
  private parse5(d: Uint8Array, s: number, e: number, type: number): void {
    const p = this.packet;
    const props = p.properties!;
    const n = e - s;
    let rc = 0;
    switch (type) {
      case T.CONNACK: {
        if (n < 2) this.fail(C.InvalidLength, `CONNACK remaining length must be at least 2, not ${n}`);
        const f = d[s];
        if (f & 0xfe) this.fail(C.InvalidFlags, `CONNACK acknowledge flags must be 0 or 1, not ${f}`);
        rc = d[s + 1];
        if (n === 2) {
          // no Property Length: only the 3.1.1 refusal a broker that does not speak 5.0
          // answers a 5.0 CONNECT with (return code 1, unacceptable protocol version, or 2-5)
          if (f !== 0 || rc < 1 || rc > 5) this.fail(C.InvalidLength, "CONNACK without a Property Length (§3.2.2.3.1)");
          p.sessionPresent = false;
          props.clear(d, e, e);
          break;
        }
        this.reason(type, rc);
        if (rc !== 0 && f === 1) this.fail(C.InvalidFlags, "CONNACK with Session Present and a failure reason code (§3.2.2.1.1)");
        p.sessionPresent = f === 1;
        this.tail(d, s + 2, e, type, props);
        this.authentication(props, type);
        break;
      }
      case T.PUBACK:
      case T.PUBREC:
      case T.PUBREL:
      case T.PUBCOMP:
        if (n < 2) this.fail(C.InvalidLength, `${PacketName[type]} remaining length must be at least 2, not ${n}`);
        this.id(d, s, type);
        if (n > 2) this.reason(type, (rc = d[s + 2]));
        this.tail(d, s + 3, e, type, props);
        break;
      case T.DISCONNECT:
      case T.AUTH:
        // §3.15.2.1: AUTH leaves out its reason code only together with its properties
        if (type === T.AUTH && n === 1) this.fail(C.InvalidLength, "AUTH with a reason code but no Property Length (§3.15.2.1)");
        if (n > 0) this.reason(type, (rc = d[s]));
        this.tail(d, s + 1, e, type, props);
        if (type === T.AUTH && n > 0 && !props.has(0x15)) this.fail(C.MissingProperty, "AUTH without an Authentication Method (§3.15.2.2.2)");
        this.authentication(props, type);
        break;
      case T.SUBSCRIBE:
      case T.UNSUBSCRIBE:
      case T.SUBACK:
      case T.UNSUBACK: {
        if (n < 2) this.fail(C.LengthOverrun, `${PacketName[type]} without its packet id`);
        this.id(d, s, type);
        const k = this.walk(d, s + 2, e, type, props);
        if (k === e) this.fail(C.EmptyPayload, `${PacketName[type]} without any entry`);
        p.payloadStart = k;
        p.payloadEnd = e;
        if (type === T.SUBSCRIBE || type === T.UNSUBSCRIBE) this.filters(d, k, e, type);
        else for (let j = k; j < e; j++) this.reason(type, d[j]);
        break;
      }
      default:
        // PINGREQ, PINGRESP: length checked already
        props.clear(d, e, e);
    }
    p.reasonCode = rc;
  }

  /** Authentication Data needs its Authentication Method (§3.1.2.11.10, §3.2.2.3.18). */
  private authentication(props: Properties, type: number): void {
    if (props.has(0x16) && !props.has(0x15)) this.fail(C.MissingProperty, `${PacketName[type].toUpperCase()} Authentication Data without an Authentication Method`);
  }

  private reason(type: number, rc: number): void {
    if (!reasonAllowed(type, rc)) this.fail(C.InvalidReasonCode, `${PacketName[type]} may not carry reason code 0x${hex2(rc)}`);
  }

  /** Optional properties from `k` to the packet's end `e` (none when `k >= e`), which they must fill exactly. */
  private tail(d: Uint8Array, k: number, e: number, type: number, props: Properties): void {
    if (k >= e) props.clear(d, e, e);
    else if (this.walk(d, k, e, type, props) !== e) this.fail(C.LengthOverrun, `${PacketName[type]} has bytes after its properties`);
  }

  /**
   * Walks the property block at `d[k]` (Property Length, then properties) that must end by
   * `e`, in the packet type or will (`ctx`), into `props`; returns the offset after it.
   */
  private walk(d: Uint8Array, k: number, e: number, ctx: number, props: Properties): number {
    // the Property Length: one byte (under 128 bytes of properties) is the common case
    let len = k < e ? d[k] : 0x80;
    if (len < 0x80) k++;
    else {
      len = 0;
      let mul = 1;
      for (let b = 0x80, i = 0; b & 0x80; i++) {
        if (i === 4) this.fail(C.MalformedVarint, `${where(ctx)} Property Length has more than four bytes`);
        if (k >= e) this.fail(C.PropertyOverrun, `${where(ctx)} ends inside its Property Length`);
        b = d[k++];
        // §1.5.5: the fewest bytes; a last byte of 0 after others adds nothing
        if (b === 0 && i > 0) this.fail(C.MalformedVarint, `${where(ctx)} Property Length is not in its shortest form`);
        len += (b & 0x7f) * mul;
        mul *= 128;
      }
    }
    const end = k + len;
    if (end > e) this.fail(C.PropertyOverrun, `${where(ctx)} Property Length ${len} runs past the end of the packet`);
    // (props.clear, inline: this runs for every 5.0 PUBLISH)
    props.data = d;
    props.start = k;
    props.end = end;
    props.present = 0;
    props.userPropertyCount = 0;
    props.subscriptionIdentifierCount = 0;
    props.topicAlias = 0;
    props.subscriptionIdentifier = 0;
    props.cacheKey = 0;
    const start = k;
    const base = ctx << 8;
    while (k < end) {
      const id = d[k++];
      // its type if it may appear here, else 0
      const type = PROP_IN[base | id];
      if (type === PropType.Pair) {
        // the likeliest in a PUBLISH first; it may repeat, the first one is recorded.
        // Name, then value: two length-prefixed UTF-8 strings, checked here (inline: the
        // receive hot path); a run of plain ASCII is checked a byte at a time, the rest by scanUtf8
        if (props.userPropertyCount++ === 0) {
          props.present |= USER_BIT;
          props.at[USER_AT] = k - start;
        }
        if (k + 2 > end) this.overrun(id, ctx);
        let i = k + 2;
        k = i + ((d[k] << 8) | d[k + 1]);
        if (k > end) this.overrun(id, ctx);
        while (i < k && d[i] << 24 > 0) i++; // 1-127
        if (i < k && scanUtf8(d, i, k) === UTF8_MALFORMED) this.fail(C.MalformedUtf8, "User Property name is not well-formed UTF-8");
        if (k + 2 > end) this.overrun(id, ctx);
        i = k + 2;
        k = i + ((d[k] << 8) | d[k + 1]);
        if (k > end) this.overrun(id, ctx);
        while (i < k && d[i] << 24 > 0) i++; // 1-127
        if (i < k && scanUtf8(d, i, k) === UTF8_MALFORMED) this.fail(C.MalformedUtf8, "User Property value is not well-formed UTF-8");
        continue;
      }
      if (type === 0) {
        if (id >= 64 || PROP_INDEX[id] === 0) this.fail(C.UnknownProperty, `${where(ctx)} has an unknown property 0x${hex2(id)}`);
        this.fail(C.PropertyNotAllowed, `${propertyName(id)} (0x${hex2(id)}) is not allowed in ${where(ctx)}`);
      }
      const idx = PROP_INDEX[id];
      const bit = 1 << idx;
      if (props.present & bit) {
        if (PROP_REPEATS[id] === 0 && !(id === 0x0b && ctx === T.PUBLISH)) this.fail(C.DuplicateProperty, `${propertyName(id)} appears twice in ${where(ctx)}`);
      } else {
        props.present |= bit;
        props.at[idx - 1] = k - start;
      }
      // by type (an if chain: XS tests a switch's cases in turn too)
      if (type === PropType.U16) {
        if (k + 2 > end) this.overrun(id, ctx);
        const v = (d[k] << 8) | d[k + 1];
        k += 2;
        if (id === 0x23) {
          if (v === 0 || v > this.topicAliasMaximum)
            this.fail(C.InvalidTopicAlias, v === 0 ? "Topic Alias 0 (§3.3.2.3.4)" : `Topic Alias ${v} is above the maximum of ${this.topicAliasMaximum}`);
          props.topicAlias = v;
        } else if (v === 0 && id === 0x21) this.fail(C.InvalidPropertyValue, "Receive Maximum 0 (§3.1.2.11.3)");
      } else if (type === PropType.Varint) {
        let v = 0;
        let m = 1;
        for (let b = 0x80, i = 0; b & 0x80; i++) {
          if (i === 4) this.fail(C.MalformedVarint, "Subscription Identifier has more than four bytes");
          if (k >= end) this.overrun(id, ctx);
          b = d[k++];
          if (b === 0 && i > 0) this.fail(C.MalformedVarint, "Subscription Identifier is not in its shortest form (§1.5.5)");
          v += (b & 0x7f) * m;
          m *= 128;
        }
        if (v === 0) this.fail(C.InvalidSubscriptionId, "Subscription Identifier 0 (§3.8.2.1.2)");
        if (props.subscriptionIdentifierCount++ === 0) props.subscriptionIdentifier = v;
      } else if (type === PropType.Byte) {
        if (k + 1 > end) this.overrun(id, ctx);
        if (d[k] > 1) this.fail(C.InvalidPropertyValue, `${propertyName(id)} must be 0 or 1, not ${d[k]}`);
        k += 1;
      } else if (type === PropType.U32) {
        if (k + 4 > end) this.overrun(id, ctx);
        if (id === 0x27 && d[k] === 0 && d[k + 1] === 0 && d[k + 2] === 0 && d[k + 3] === 0) this.fail(C.InvalidPropertyValue, "Maximum Packet Size 0 (§3.1.2.11.4)");
        k += 4;
      } else if (type === PropType.Utf8) {
        const at = k;
        k = this.text(d, k, end, id, ctx);
        // §3.3.2.3.5: a Response Topic is a topic name
        if (id === 0x08 && (k === at + 2 || scanUtf8(d, at + 2, k) !== 0)) this.fail(C.InvalidPropertyValue, "Response Topic is empty or contains a wildcard");
      } else {
        if (k + 2 > end || k + 2 + this.u16(d, k) > end) this.overrun(id, ctx);
        k += 2 + this.u16(d, k);
      }
    }
    return end;
  }

  /** A length-prefixed UTF-8 string of property `id` at `k`, inside the block ending at `end`; returns the offset after it. */
  private text(d: Uint8Array, k: number, end: number, id: number, ctx: number): number {
    if (k + 2 > end) this.overrun(id, ctx);
    const n = this.u16(d, k);
    k += 2;
    if (k + n > end) this.overrun(id, ctx);
    if (scanUtf8(d, k, k + n) === UTF8_MALFORMED) this.fail(C.MalformedUtf8, `${propertyName(id)} is not well-formed UTF-8`);
    return k + n;
  }

  private aliasAbove(alias: number): never {
    this.fail(C.InvalidTopicAlias, `Topic Alias ${alias} is above the maximum of ${this.topicAliasMaximum}`);
  }

  private overrun(id: number, ctx: number): never {
    this.fail(C.PropertyOverrun, `${propertyName(id)} runs past the end of the properties of ${where(ctx)}`);
  }

  /** Packet id then a non-empty list: sets payloadStart/End. */
  private list(d: Uint8Array, s: number, e: number, type: number): void {
    if (e - s < 3) this.fail(e - s < 2 ? C.LengthOverrun : C.EmptyPayload, `${PacketName[type]} without any entry`);
    this.id(d, s, type);
    this.packet.payloadStart = s + 2;
    this.packet.payloadEnd = e;
  }

  /**
   * Parses and checks a PUBLISH variable header at `d[s...]` whose packet has `n` bytes
   * in all, of which `d` holds those before `have` (a PUBLISH larger than the receive
   * buffer: only its head); sets the topic and id fields and returns the variable header's length.
   */
  private publishHead(d: Uint8Array, s: number, n: number, have: number): number {
    const p = this.packet;
    const f = this.first & 15;
    p.type = T.PUBLISH;
    p.flags = f;
    p.remainingLength = n;
    const qos = (f >> 1) & 3;
    p.qos = qos;
    p.dup = (f & PUBLISH_DUP) !== 0;
    p.retain = (f & PUBLISH_RETAIN) !== 0;
    p.packetId = 0;
    if (n < 2) this.fail(C.LengthOverrun, "PUBLISH too short for its topic length");
    const tl = (d[s] << 8) | d[s + 1];
    let head = 2 + tl + (qos > 0 ? 2 : 0);
    if (head > n) this.fail(C.LengthOverrun, "PUBLISH topic or packet id runs past the end of the packet");
    const t = s + 2;
    p.topicStart = t;
    p.topicLength = tl;
    p.payloadLength = n - head;
    p.data = d;
    p.topicData = d;
    const cache = this.topics;
    if (!this.v5) {
      // (inline, not a call: this is the receive hot path) a topic in the cache was checked when it went in
      const slot = cache === null ? -1 : cache.find(d, t, tl);
      p.topicSlot = slot < 0 ? this.newTopic(d, t, tl) : slot;
      // 3.1.1 checks the topic before the packet id, 5.0 (below) the id and properties before the topic
      if (qos > 0) this.id(d, t + tl, T.PUBLISH);
      return head;
    }
    let slot = -1;
    if (cache !== null && tl > 0) {
      if (qos === 0 && cache.runTopicLength === tl && (slot = cache.run(d, t, tl, have, p.properties!)) >= 0) {
        // the topic and property block of a message seen last, found as one run
        const props = p.properties!;
        if (props.topicAlias > this.topicAliasMaximum) this.aliasAbove(props.topicAlias);
        p.payloadLength = s + n - props.end;
        p.topicSlot = slot;
        return props.end - s;
      }
      slot = cache.find(d, t, tl);
    }
    // the packet id and the properties (from `at`); a block kept with the topic is not walked again
    const at = s + head;
    head = this.publishProperties(d, s, n, head, slot, have);
    if (tl === 0) return head;
    if (slot < 0 && (slot = this.newTopic(d, t, tl)) >= 0) cache!.keepBlock(slot, d, at, s + head, p.properties!, qos === 0 ? tl : -1);
    p.topicSlot = slot;
    return head;
  }

  /** A PUBLISH topic the cache does not hold: checked, then kept; its slot, or -1 when not kept. */
  private newTopic(d: Uint8Array, t: number, tl: number): number {
    const scan = scanUtf8(d, t, t + tl);
    if (scan === UTF8_MALFORMED) this.fail(C.MalformedUtf8, "PUBLISH topic is not well-formed UTF-8");
    if (tl === 0) this.fail(C.InvalidTopic, "PUBLISH topic is empty");
    if (scan !== 0) this.fail(C.InvalidTopic, "PUBLISH topic contains a wildcard");
    return this.topics === null ? -1 : this.topics.add(d, t, tl);
  }

  /**
   * 5.0: the packet id and the properties after a PUBLISH topic, the head so far being
   * `head` bytes (`have` as publishHead's); returns the whole head's length. An empty topic
   * needs a Topic Alias (§3.3.2.3.4).
   */
  private publishProperties(d: Uint8Array, s: number, n: number, head: number, slot: number, have: number): number {
    const p = this.packet;
    if (p.qos > 0) this.id(d, s + head - 2, T.PUBLISH);
    const props = p.properties!;
    const at = s + head;
    // at QoS 0 the topic lies just before the block: the cache keeps both as its run
    const run = p.qos === 0 ? p.topicLength : -1;
    let k = slot < 0 ? -1 : this.topics!.block(slot, d, at, have, props, run);
    if (k < 0) {
      k = this.walk(d, at, s + n, T.PUBLISH, props);
      if (slot >= 0) this.topics!.keepBlock(slot, d, at, k, props, run);
    } else if (props.topicAlias > this.topicAliasMaximum) this.aliasAbove(props.topicAlias); // kept under an earlier maximum
    p.payloadLength = s + n - k;
    if (p.topicLength === 0) {
      if (p.properties!.topicAlias === 0) this.fail(C.InvalidTopic, "PUBLISH topic is empty and has no Topic Alias");
      p.topicSlot = -1;
    }
    return k - s;
  }

  /** CONNECT (§3.1): protocol, flags, keepalive, then the payload fields in order; into the CONNECT record. */
  private connect(d: Uint8Array, s: number, e: number): ConnectPacket {
    const p = (this.connectPacket ??= new ConnectPacket());
    p.type = T.CONNECT;
    p.flags = 0;
    p.remainingLength = e - s;
    p.data = d;
    p.packetId = 0;
    if (e - s < 10) this.fail(C.LengthOverrun, "CONNECT variable header is shorter than 10 bytes");
    if (this.u16(d, s) !== 4 || d[s + 2] !== 0x4d || d[s + 3] !== 0x51 || d[s + 4] !== 0x54 || d[s + 5] !== 0x54)
      this.fail(C.UnsupportedProtocol, "CONNECT protocol name is not MQTT");
    const level = d[s + 6];
    if (level !== 4 && level !== 5) this.fail(C.UnsupportedProtocol, `CONNECT protocol level ${level} is not 4 (MQTT 3.1.1) or 5 (MQTT 5.0)`);
    const v5 = level === 5;
    const flags = d[s + 7];
    if (flags & 1) this.fail(C.InvalidFlags, "CONNECT reserved flag is set");
    const will = (flags & 4) !== 0;
    const wq = (flags >> 3) & 3;
    if (wq === 3) this.fail(C.InvalidQoS, "CONNECT will QoS 3");
    if (!will && (wq !== 0 || flags & 0x20)) this.fail(C.InvalidFlags, "CONNECT will QoS or retain set without a will");
    if (!v5 && flags & 0x40 && !(flags & 0x80)) this.fail(C.InvalidFlags, "CONNECT password without a user name");
    p.protocolLevel = level;
    p.connectFlags = flags;
    p.keepalive = this.u16(d, s + 8);
    // each field: its bytes start 2 after where it starts (at), and end where the next starts (k)
    let at = s + 10;
    if (v5) at = this.walk(d, at, e, T.CONNECT, (p.properties ??= new Properties()));
    let k = this.field(d, at, e, true, "client id");
    p.clientIdStart = at + 2;
    p.clientIdLength = k - at - 2;
    p.willTopicLength = p.willPayloadLength = p.usernameLength = p.passwordLength = -1;
    if (will) {
      if (v5) k = this.walk(d, k, e, WILL, (p.willProperties ??= new Properties()));
      k = this.field(d, (at = k), e, true, "will topic");
      if (k - at === 2 || scanUtf8(d, at + 2, k) !== 0) this.fail(C.InvalidTopic, "CONNECT will topic is empty or contains a wildcard");
      p.willTopicStart = at + 2;
      p.willTopicLength = k - at - 2;
      k = this.field(d, (at = k), e, false, "will payload");
      p.willPayloadStart = at + 2;
      p.willPayloadLength = k - at - 2;
    }
    if (flags & 0x80) {
      k = this.field(d, (at = k), e, true, "user name");
      p.usernameStart = at + 2;
      p.usernameLength = k - at - 2;
    }
    if (flags & 0x40) {
      k = this.field(d, (at = k), e, false, "password");
      p.passwordStart = at + 2;
      p.passwordLength = k - at - 2;
    }
    if (k !== e) this.fail(C.LengthOverrun, `CONNECT has ${e - k} bytes after its last field`);
    if (v5) this.authentication(p.properties!, T.CONNECT);
    // no will properties from an earlier CONNECT
    if (p.willProperties !== null && !(v5 && will)) p.willProperties.clear(d, e, e);
    // a valid CONNECT sets the connection's version
    this.setVersion(level);
    return p;
  }

  /** The record CONNECT packets are delivered in, made at the first one. */
  private connectPacket: ConnectPacket | null = null;

  /** Checks the length-prefixed field at `k`; returns the index after it. */
  private field(d: Uint8Array, k: number, e: number, utf8: boolean, what: string): number {
    if (k + 2 > e) this.fail(C.LengthOverrun, `CONNECT ${what} length runs past the end of the packet`);
    const n = this.u16(d, k);
    k += 2;
    if (k + n > e) this.fail(C.LengthOverrun, `CONNECT ${what} runs past the end of the packet`);
    if (utf8 && scanUtf8(d, k, k + n) === UTF8_MALFORMED) this.fail(C.MalformedUtf8, `CONNECT ${what} is not well-formed UTF-8`);
    return k + n;
  }
}

/** The packet type or will a property block belongs to, for messages. */
function where(ctx: number): string {
  return ctx === WILL ? "the will properties" : PacketName[ctx].toUpperCase();
}

function hex2(b: number): string {
  return (b < 16 ? "0" : "") + b.toString(16);
}
