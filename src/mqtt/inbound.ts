/**
 * Inbound state that outlives one message: the routes remembered per received topic, and
 * the QoS 2 packet ids answered with PUBREC and awaiting their PUBREL. Both are fixed
 * typed arrays sized at construction; nothing here allocates per message.
 */
import type { Message } from "./message.js";
import type { SubscriptionTable } from "./topic.js";

/** Subscriptions remembered per received topic; a topic matching more is matched every time. */
export const ROUTE_MAX = 4;

/** Numbers per slot of a route table: [topic key, table generation, row count (-1: too many), rows × ROUTE_MAX]. */
export const ROUTE_STRIDE = 3 + ROUTE_MAX;

/**
 * The table of routes: per slot of the decoder's topic cache, the subscription rows the
 * slot's topic matched, good while the slot holds the same topic (its key) and the
 * subscription table has not changed (its generation). The client reads it inline on its
 * receive path and calls {@link makeRoute} when a route is not good.
 */
export function routeTable(buffer: ArrayBuffer, offset: number, slots: number): Int32Array {
  return new Int32Array(buffer, offset, slots * ROUTE_STRIDE);
}

/** Bytes of a route table for `slots` slots (a multiple of 4). */
export function routeTableBytes(slots: number): number {
  return slots * ROUTE_STRIDE * 4;
}

/**
 * Matches `m`'s topic against `subs` and keeps, from `table[at]` on, the slot's key (a
 * uint32 kept as its int32 bits), the table's generation, the count of rows (-1 when more
 * than {@link ROUTE_MAX} match: then match every time) and the rows.
 */
export function makeRoute<V>(table: Int32Array, at: number, key: number, subs: SubscriptionTable<V>, m: Message): void {
  let n = 0;
  for (let i = subs.next(m.topicData, m.topicStart, m.topicLength, 0); i >= 0; i = subs.next(m.topicData, m.topicStart, m.topicLength, i + 1)) {
    if (n === ROUTE_MAX) {
      n = -1; // too many to keep: matched every time
      break;
    }
    table[at + 3 + n++] = i;
  }
  table[at] = key;
  table[at + 1] = subs.generation;
  table[at + 2] = n;
}

/**
 * Inbound QoS 2 ids answered with PUBREC and awaiting PUBREL (§4.3.3): a PUBLISH for one
 * of them is a resend of a message already delivered. Kept across a reconnect into a
 * present session; emptied when the broker kept no session.
 */
export class InboundQos2 {
  private readonly ids: Uint16Array;
  private count = 0;

  /** The table's ids live in `buffer` from `offset` (`capacity` × 2 bytes): a view costs XS fewer heap slots than a buffer of its own. */
  constructor(buffer: ArrayBuffer, offset: number, capacity: number) {
    this.ids = new Uint16Array(buffer, offset, capacity);
  }

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.ids.length;
  }

  /** No room for another id. */
  get full(): boolean {
    return this.count === this.ids.length;
  }

  /** Whether `id` awaits its PUBREL. */
  has(id: number): boolean {
    const ids = this.ids;
    for (let k = 0; k < this.count; k++) if (ids[k] === id) return true;
    return false;
  }

  /** Remembers `id` (not already held); false when the table is full. */
  add(id: number): boolean {
    if (this.count === this.ids.length) return false;
    this.ids[this.count++] = id;
    return true;
  }

  /** PUBREL for `id`: forgets it; false when it was not held. */
  release(id: number): boolean {
    const ids = this.ids;
    for (let k = 0; k < this.count; k++)
      if (ids[k] === id) {
        ids[k] = ids[--this.count];
        return true;
      }
    return false;
  }

  clear(): void {
    this.count = 0;
  }
}
