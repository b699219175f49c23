/**
 * Topic names, topic filters and matching (MQTT 3.1.1 §4.7), and the subscription table
 * the client dispatches with. Matching works on UTF-8 bytes so an incoming message is
 * routed without making a string of its topic.
 */
import { topicNameLength } from "./encode.js";
import { ErrorCode, MqttError } from "./errors.js";
import { scanUtf8, utf8Length, writeUtf8, UTF8_MALFORMED, UTF8_WILDCARD } from "./utf8.js";

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;

/** Throws `InvalidTopic` unless `topic` is a valid topic name: non-empty, no wildcards, sendable UTF-8 of at most 65535 bytes. */
export function validateTopic(topic: string): void {
  topicNameLength(topic, "topic name:");
}

/** The UTF-8 of a valid topic name, for `PublishFields.topicBytes`; throws `InvalidTopic`. */
export function encodeTopic(topic: string): Uint8Array {
  const bytes = new Uint8Array(topicNameLength(topic, "topic name:"));
  writeUtf8(bytes, 0, topic);
  return bytes;
}

/** Throws `InvalidTopicFilter` unless `filter` is valid: `+` fills a whole level, `#` only as the whole last level. */
export function validateTopicFilter(filter: string): void {
  filterBytes(filter);
}

/** The UTF-8 of a valid topic filter; throws `InvalidTopicFilter` (see {@link validateTopicFilter}). */
function filterBytes(filter: string): Uint8Array {
  const n = typeof filter === "string" ? utf8Length(filter) : -1;
  if (n === 0) throw new MqttError(ErrorCode.InvalidTopicFilter, "topic filter is empty");
  if (n < 0) throw new MqttError(ErrorCode.InvalidTopicFilter, "topic filter is not sendable UTF-8 (lone surrogate or U+0000)");
  if (n > 65535) throw new MqttError(ErrorCode.InvalidTopicFilter, "topic filter is longer than 65535 bytes");
  const bytes = new Uint8Array(n);
  writeUtf8(bytes, 0, filter);
  if (!isValidFilterBytes(bytes, 0, n)) throw new MqttError(ErrorCode.InvalidTopicFilter, `misplaced wildcard in topic filter: ${filter}`);
  return bytes;
}

/** Wildcard placement check on UTF-8 bytes (the caller checked the UTF-8 itself). */
export function isValidFilterBytes(data: Uint8Array, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = data[i];
    if (c === PLUS || c === HASH) {
      if (i > start && data[i - 1] !== SLASH) return false;
      if (c === HASH) return i === end - 1;
      if (i + 1 < end && data[i + 1] !== SLASH) return false;
    }
  }
  return true;
}

/** Whether bytes form a valid topic filter. */
export function isValidFilterUtf8(data: Uint8Array, start: number, end: number): boolean {
  const s = scanUtf8(data, start, end);
  if (s === UTF8_MALFORMED) return false;
  return s !== UTF8_WILDCARD || isValidFilterBytes(data, start, end);
}

/**
 * Whether `filter` (UTF-8 bytes) matches the topic `data[start, start+length)` (§4.7).
 * `+` and `#` in the first level do not match topics that begin with `$` (§4.7.2).
 */
export function matchFilter(filter: Uint8Array, data: Uint8Array, start: number, length: number): boolean {
  const fl = filter.length;
  const end = start + length;
  if (length > 0 && data[start] === DOLLAR && fl > 0 && (filter[0] === PLUS || filter[0] === HASH)) return false;
  let f = 0;
  let t = start;
  for (;;) {
    // at the start of a level in both
    if (f < fl && filter[f] === HASH) return true; // this level and all below (§4.7.1.2)
    if (f < fl && filter[f] === PLUS) {
      while (t < end && data[t] !== SLASH) t++;
      f++;
    } else {
      while (f < fl && filter[f] !== SLASH) {
        if (t >= end || data[t] !== filter[f]) return false;
        f++;
        t++;
      }
      if (t < end && data[t] !== SLASH) return false;
    }
    // each is at a separator or its end
    if (f === fl) return t === end;
    if (t === end) return f + 2 === fl && filter[f + 1] === HASH; // "a/#" matches "a"
    f++;
    t++;
  }
}

/**
 * String convenience for {@link matchFilter}; allocates, so not for the hot path. Throws
 * `InvalidTopicFilter` or `InvalidTopic` for arguments that are not valid.
 */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filterBytes(filter);
  const t = encodeTopic(topic);
  return matchFilter(f, t, 0, t.length);
}

/** One row of a {@link SubscriptionTable}. */
export interface SubscriptionEntry<V> {
  readonly filter: string;
  readonly bytes: Uint8Array;
  qos: number;
  /** Whatever the owner keeps per filter (the client keeps its handler and state). */
  value: V;
}

/**
 * Filters and their handlers. Lookup scans the rows and compares bytes; it returns row
 * indexes, so routing a message allocates nothing:
 * `for (let i = t.next(d, s, n, 0); i >= 0; i = t.next(d, s, n, i + 1)) use(t.at(i).value)`.
 */
export class SubscriptionTable<V> {
  private rows: SubscriptionEntry<V>[] = [];
  /** Changes whenever a row is added or removed (row indexes and matches may differ after). */
  generation = 0;

  /** Adds or replaces the row for `filter` (validated); returns it. */
  set(filter: string, qos: number, value: V): SubscriptionEntry<V> {
    const bytes = filterBytes(filter);
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new MqttError(ErrorCode.InvalidQoS, `subscription QoS must be 0, 1 or 2, not ${qos}`);
    const i = this.indexOf(filter);
    if (i >= 0) {
      const row = this.rows[i];
      row.qos = qos;
      row.value = value;
      return row;
    }
    const row = { filter, bytes, qos, value };
    this.rows.push(row);
    this.generation = (this.generation + 1) >>> 0;
    return row;
  }

  /** Removes the row for `filter`; true if there was one. */
  delete(filter: string): boolean {
    const i = this.indexOf(filter);
    if (i < 0) return false;
    this.rows.splice(i, 1);
    this.generation = (this.generation + 1) >>> 0;
    return true;
  }

  get(filter: string): SubscriptionEntry<V> | undefined {
    const i = this.indexOf(filter);
    return i < 0 ? undefined : this.rows[i];
  }

  get size(): number {
    return this.rows.length;
  }

  at(index: number): SubscriptionEntry<V> {
    return this.rows[index];
  }

  /** Index of the first row at or after `from` whose filter matches the topic bytes, or -1. */
  next(data: Uint8Array, start: number, length: number, from: number): number {
    const rows = this.rows;
    for (let i = from; i < rows.length; i++) if (matchFilter(rows[i].bytes, data, start, length)) return i;
    return -1;
  }

  private indexOf(filter: string): number {
    const rows = this.rows;
    for (let i = 0; i < rows.length; i++) if (rows[i].filter === filter) return i;
    return -1;
  }
}
