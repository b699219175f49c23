/**
 * MQTT 5.0 properties (§2.2.2): their identifiers, value types, where each may appear,
 * and the view the decoder fills when it walks a property block.
 *
 * A decoded property block is never turned into objects: the decoder checks it in one pass
 * over the receive buffer and records, per property, the offset of its value. Numbers are
 * read from there when asked for; strings and binary data stay bytes until the application
 * asks for a string or a view.
 */
import { PacketType as T } from "./packet.js";
import { decodeUtf8 } from "./utf8.js";

/** Value types (§1.5, §2.2.2.2). */
export const PropType = Object.freeze({
  Byte: 1,
  U16: 2,
  U32: 3,
  Varint: 4,
  Utf8: 5,
  Binary: 6,
  Pair: 7,
} as const);

/** A property's place in a {@link Properties} record: the context bit for the will's properties. */
export const WILL = 0;

const ALL_TYPES = (1 << T.CONNECT) | (1 << T.CONNACK) | (1 << T.PUBLISH) | (1 << WILL) | (1 << T.PUBACK) | (1 << T.PUBREC) | (1 << T.PUBREL) | (1 << T.PUBCOMP) | (1 << T.SUBSCRIBE) | (1 << T.SUBACK) | (1 << T.UNSUBSCRIBE) | (1 << T.UNSUBACK) | (1 << T.DISCONNECT) | (1 << 15);
const ACKS = (1 << T.CONNACK) | (1 << T.PUBACK) | (1 << T.PUBREC) | (1 << T.PUBREL) | (1 << T.PUBCOMP) | (1 << T.SUBACK) | (1 << T.UNSUBACK) | (1 << T.DISCONNECT) | (1 << 15);
const MESSAGE = (1 << T.PUBLISH) | (1 << WILL);

/**
 * The 27 properties of §2.2.2.2, in identifier order: [identifier, mqtt-packet name, type,
 * contexts (a bit per packet type; bit 0 is the will), may repeat].
 * Only the User Property repeats anywhere, and the Subscription Identifier in PUBLISH.
 */
export const PROPERTIES: readonly (readonly [number, string, number, number, boolean])[] = Object.freeze([
  [0x01, "payloadFormatIndicator", PropType.Byte, MESSAGE, false],
  [0x02, "messageExpiryInterval", PropType.U32, MESSAGE, false],
  [0x03, "contentType", PropType.Utf8, MESSAGE, false],
  [0x08, "responseTopic", PropType.Utf8, MESSAGE, false],
  [0x09, "correlationData", PropType.Binary, MESSAGE, false],
  [0x0b, "subscriptionIdentifier", PropType.Varint, (1 << T.PUBLISH) | (1 << T.SUBSCRIBE), false],
  [0x11, "sessionExpiryInterval", PropType.U32, (1 << T.CONNECT) | (1 << T.CONNACK) | (1 << T.DISCONNECT), false],
  [0x12, "assignedClientIdentifier", PropType.Utf8, 1 << T.CONNACK, false],
  [0x13, "serverKeepAlive", PropType.U16, 1 << T.CONNACK, false],
  [0x15, "authenticationMethod", PropType.Utf8, (1 << T.CONNECT) | (1 << T.CONNACK) | (1 << 15), false],
  [0x16, "authenticationData", PropType.Binary, (1 << T.CONNECT) | (1 << T.CONNACK) | (1 << 15), false],
  [0x17, "requestProblemInformation", PropType.Byte, 1 << T.CONNECT, false],
  [0x18, "willDelayInterval", PropType.U32, 1 << WILL, false],
  [0x19, "requestResponseInformation", PropType.Byte, 1 << T.CONNECT, false],
  [0x1a, "responseInformation", PropType.Utf8, 1 << T.CONNACK, false],
  [0x1c, "serverReference", PropType.Utf8, (1 << T.CONNACK) | (1 << T.DISCONNECT), false],
  [0x1f, "reasonString", PropType.Utf8, ACKS, false],
  [0x21, "receiveMaximum", PropType.U16, (1 << T.CONNECT) | (1 << T.CONNACK), false],
  [0x22, "topicAliasMaximum", PropType.U16, (1 << T.CONNECT) | (1 << T.CONNACK), false],
  [0x23, "topicAlias", PropType.U16, 1 << T.PUBLISH, false],
  [0x24, "maximumQoS", PropType.Byte, 1 << T.CONNACK, false],
  [0x25, "retainAvailable", PropType.Byte, 1 << T.CONNACK, false],
  [0x26, "userProperties", PropType.Pair, ALL_TYPES, true],
  [0x27, "maximumPacketSize", PropType.U32, (1 << T.CONNECT) | (1 << T.CONNACK), false],
  [0x28, "wildcardSubscriptionAvailable", PropType.Byte, 1 << T.CONNACK, false],
  [0x29, "subscriptionIdentifiersAvailable", PropType.Byte, 1 << T.CONNACK, false],
  [0x2a, "sharedSubscriptionAvailable", PropType.Byte, 1 << T.CONNACK, false],
] as const);

/** Identifiers, by name, for code that reads a {@link Properties} record. */
export const Prop = Object.freeze({
  PayloadFormatIndicator: 0x01,
  MessageExpiryInterval: 0x02,
  ContentType: 0x03,
  ResponseTopic: 0x08,
  CorrelationData: 0x09,
  SubscriptionIdentifier: 0x0b,
  SessionExpiryInterval: 0x11,
  AssignedClientIdentifier: 0x12,
  ServerKeepAlive: 0x13,
  AuthenticationMethod: 0x15,
  AuthenticationData: 0x16,
  RequestProblemInformation: 0x17,
  WillDelayInterval: 0x18,
  RequestResponseInformation: 0x19,
  ResponseInformation: 0x1a,
  ServerReference: 0x1c,
  ReasonString: 0x1f,
  ReceiveMaximum: 0x21,
  TopicAliasMaximum: 0x22,
  TopicAlias: 0x23,
  MaximumQoS: 0x24,
  RetainAvailable: 0x25,
  UserProperty: 0x26,
  MaximumPacketSize: 0x27,
  WildcardSubscriptionAvailable: 0x28,
  SubscriptionIdentifiersAvailable: 0x29,
  SharedSubscriptionAvailable: 0x2a,
} as const);

export const PROPERTY_COUNT = PROPERTIES.length;

/** Identifier → index into {@link PROPERTIES} plus 1 (0: no such property). */
export const PROP_INDEX = new Uint8Array(64);
/** By identifier: type, contexts, repeatable (so the walk reads typed arrays, not tuples). */
export const PROP_TYPE = new Uint8Array(64);
export const PROP_CONTEXTS = new Uint16Array(64);
export const PROP_REPEATS = new Uint8Array(64);
for (let i = 0; i < PROPERTIES.length; i++) {
  const [id, , type, contexts, repeats] = PROPERTIES[i];
  PROP_INDEX[id] = i + 1;
  PROP_TYPE[id] = type;
  PROP_CONTEXTS[id] = contexts;
  PROP_REPEATS[id] = repeats ? 1 : 0;
}
Object.freeze(PROP_INDEX.buffer);
/**
 * By context and identifier, `PROP_IN[(ctx << 8) | id]`: the property's type when it may
 * appear in that packet type (or the will, context 0), else 0 (unknown, or not allowed there).
 * One read per property in the decoder's walk.
 */
export const PROP_IN = new Uint8Array(16 << 8);
for (const [id, , type, contexts] of PROPERTIES) for (let ctx = 0; ctx < 16; ctx++) if ((contexts >> ctx) & 1) PROP_IN[(ctx << 8) | id] = type;
/** The User Property's bit in {@link Properties.present}, and its place in {@link Properties.at}. */
export const USER_BIT = 1 << PROP_INDEX[0x26];
export const USER_AT = PROP_INDEX[0x26] - 1;

/** The name of a property identifier, or "0x.." for an unknown one. */
export function propertyName(id: number): string {
  const i = id < 64 ? PROP_INDEX[id] : 0;
  return i > 0 ? PROPERTIES[i - 1][1] : `0x${id.toString(16)}`;
}

const EMPTY = new Uint8Array(0);

/**
 * A decoded property block, refilled in place for each packet: `data[start, end)` are the
 * properties (after the Property Length). For each property present, `at` holds the offset
 * of its value from `start` (of the first one, for the Subscription Identifier and User
 * Property, which may repeat; walk those with {@link PropertyCursor}). Valid only while
 * `data` is.
 */
export class Properties {
  data: Uint8Array = EMPTY;
  start = 0;
  end = 0;
  /** A bit per property, by index + 1 in {@link PROPERTIES}: `(present >>> PROP_INDEX[id]) & 1`. */
  present = 0;
  /** Offset of each property's value from `start`, by its index in {@link PROPERTIES}. */
  readonly at: Int32Array;
  userPropertyCount = 0;
  subscriptionIdentifierCount = 0;
  /** The Topic Alias, 0 when absent (read on every PUBLISH, so kept as a field). */
  topicAlias = 0;
  /** The first Subscription Identifier, 0 when absent. */
  subscriptionIdentifier = 0;
  /**
   * The decoder's topic cache: the key of the kept property block whose walk this record
   * holds, 0 when it holds another (see TopicCache.block). Cleared by every walk and clear.
   */
  cacheKey = 0;

  /** @param at where to keep the value offsets ({@link PROPERTY_COUNT} of them): the decoder passes a view its topic cache copies to and from. */
  constructor(at?: Int32Array) {
    this.at = at ?? new Int32Array(PROPERTY_COUNT);
  }

  clear(data: Uint8Array, start: number, end: number): void {
    this.data = data;
    this.start = start;
    this.end = end;
    this.present = 0;
    this.userPropertyCount = 0;
    this.subscriptionIdentifierCount = 0;
    this.topicAlias = 0;
    this.subscriptionIdentifier = 0;
    this.cacheKey = 0;
  }

  has(id: number): boolean {
    return id < 64 && PROP_INDEX[id] > 0 && ((this.present >>> PROP_INDEX[id]) & 1) === 1;
  }

  /** A numeric property's value (byte, two-byte, four-byte or variable-byte integer), or `absent`. */
  number(id: number, absent = -1): number {
    if (!this.has(id)) return absent;
    const d = this.data;
    const o = this.start + this.at[PROP_INDEX[id] - 1];
    switch (PROP_TYPE[id]) {
      case PropType.Byte:
        return d[o];
      case PropType.U16:
        return (d[o] << 8) | d[o + 1];
      case PropType.U32:
        return ((d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3]) >>> 0;
      case PropType.Varint:
        return readVarint(d, o);
      default:
        return absent;
    }
  }

  /** Where a string or binary property's bytes start in `data` (after its length), or -1. */
  valueStart(id: number): number {
    return this.has(id) ? this.start + this.at[PROP_INDEX[id] - 1] + 2 : -1;
  }

  /** A string or binary property's length in bytes, or -1 when absent. */
  valueLength(id: number): number {
    if (!this.has(id)) return -1;
    const o = this.start + this.at[PROP_INDEX[id] - 1];
    return (this.data[o] << 8) | this.data[o + 1];
  }

  /** A string property as a string (allocates), or undefined. */
  text(id: number): string | undefined {
    const s = this.valueStart(id);
    return s < 0 ? undefined : decodeUtf8(this.data, s, s + this.valueLength(id));
  }

  /** A binary property as a view into `data` (allocates the view), or undefined. */
  bytes(id: number): Uint8Array | undefined {
    const s = this.valueStart(id);
    return s < 0 ? undefined : this.data.subarray(s, s + this.valueLength(id));
  }
}

/** Reads a variable-byte integer the decoder has already checked. */
export function readVarint(d: Uint8Array, o: number): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    const b = d[o++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return v;
    mul *= 128;
  }
}

/**
 * Walks the repeatable properties of a {@link Properties} record without allocating:
 * `reset(props)`, then `nextUser()` or `nextSubscriptionIdentifier()` until false. The
 * fields describe the current entry (offsets into `props.data`).
 */
export class PropertyCursor {
  private props: Properties | null = null;
  private k = 0;
  keyStart = 0;
  keyLength = 0;
  valueStart = 0;
  valueLength = 0;
  /** The current Subscription Identifier. */
  value = 0;

  reset(props: Properties): this {
    this.props = props;
    this.k = props.start;
    return this;
  }

  /** Moves to the next User Property; false when there are no more. */
  nextUser(): boolean {
    return this.next(0x26);
  }

  /** Moves to the next Subscription Identifier; false when there are no more. */
  nextSubscriptionIdentifier(): boolean {
    return this.next(0x0b);
  }

  private next(want: number): boolean {
    const p = this.props;
    if (p === null) return false;
    const d = p.data;
    let k = this.k;
    while (k < p.end) {
      const id = d[k++];
      const at = k;
      k += valueSize(d, k, PROP_TYPE[id]);
      if (id !== want) continue;
      this.k = k;
      if (want === 0x0b) this.value = readVarint(d, at);
      else {
        this.keyLength = (d[at] << 8) | d[at + 1];
        this.keyStart = at + 2;
        const v = at + 2 + this.keyLength;
        this.valueLength = (d[v] << 8) | d[v + 1];
        this.valueStart = v + 2;
      }
      return true;
    }
    this.k = k;
    return false;
  }
}

/** The size of a checked property value of `type` at `d[o]`. */
/** The size of a property value of type `type` at `d[o]`. */
export function valueSize(d: Uint8Array, o: number, type: number): number {
  switch (type) {
    case PropType.Byte:
      return 1;
    case PropType.U16:
      return 2;
    case PropType.U32:
      return 4;
    case PropType.Varint: {
      let n = 1;
      while (d[o + n - 1] & 0x80) n++;
      return n;
    }
    case PropType.Pair: {
      const kn = 2 + ((d[o] << 8) | d[o + 1]);
      return kn + 2 + ((d[o + kn] << 8) | d[o + kn + 1]);
    }
    default:
      return 2 + ((d[o] << 8) | d[o + 1]);
  }
}
