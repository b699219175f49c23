/**
 * The outbox: every outgoing PUBLISH, encoded once, in a fixed byte ring, oldest first.
 *
 * A message stays here from `publish()` until it is done: a QoS 0 message until it is
 * written, a QoS 1 message until its PUBACK. That makes one structure serve as the
 * offline queue (messages published while disconnected wait in order) and as the resend
 * store (after a reconnect, unacknowledged messages go again with DUP=1 and their packet
 * ids, ahead of anything newer). The in-flight window is a fixed table of packet-id slots.
 *
 * Each entry is a 12-byte header followed by the packet, contiguous in the ring; an entry
 * that would not fit before the end starts over at 0 behind a wrap marker.
 */

/** Entry states (header byte 0). */
const QUEUED = 1;
const SENT = 2;
const DONE = 3;
const WRAP = 4;

/** Header: state, qos, packet id (2), packet length (4), token (4). */
export const ENTRY_HEADER = 12;

/** A window slot whose message was dropped while in flight: it holds its id until the PUBACK. */
const DROPPED = -1;

/** No entry, or no room: what {@link Outbox.reserve}, {@link Outbox.next} and {@link Outbox.oldest} return then. */
export const NONE = -1;

/** {@link Outbox.written} result: a QoS 1 message, written and awaiting its PUBACK. */
export const AWAITING_ACK = -1;

/** {@link Outbox.ack} result: no message in flight has that id. */
export const UNKNOWN_ID = -1;

/** {@link Outbox.ack} result: the PUBACK of a message dropped while in flight. */
export const ACKED_AFTER_DROP = -2;

export class Outbox {
  readonly ring: Uint8Array;
  /** Header fields through DataView: a native call costs XS a few units, a byte-wise u32 dozens. */
  private view: DataView;
  /** Offsets of entries in flight (sent, awaiting PUBACK), and their packet ids. */
  private slotEntry: Int32Array;
  private slotId: Uint16Array;
  private inflight = 0;
  private head = 0;
  private tail = 0;
  /** Next entry to send. */
  private cursor = 0;
  /** Entries in the ring, finished ones not yet reclaimed included. */
  private entries = 0;
  /** Messages still held: queued or awaiting PUBACK. */
  private live = 0;
  private bytes = 0;

  constructor(capacity: number, window: number) {
    this.ring = new Uint8Array(capacity);
    this.view = new DataView(this.ring.buffer);
    // both slot tables as views of one buffer (fewer XS heap slots than two buffers)
    const slots = new ArrayBuffer(window * 6);
    this.slotEntry = new Int32Array(slots, 0, window);
    this.slotId = new Uint16Array(slots, window * 4, window);
  }

  /** Messages held (queued or in flight). */
  get count(): number {
    return this.live;
  }

  /** Ring bytes in use, headers included. */
  get used(): number {
    return this.bytes;
  }

  get inflightCount(): number {
    return this.inflight;
  }

  /**
   * Room for a packet of `size` bytes: returns where to encode it, or {@link NONE} when the ring
   * is too full. Call {@link commit} after encoding there.
   */
  reserve(size: number): number {
    const need = size + ENTRY_HEADER;
    if (this.entries === 0) {
      this.head = this.tail = this.cursor = this.bytes = 0;
      return need <= this.ring.length ? ENTRY_HEADER : NONE;
    }
    const head = this.head;
    const tail = this.tail;
    if (tail > head) {
      // free space: [tail, end), else [0, head) behind a wrap
      if (tail + need <= this.ring.length) return tail + ENTRY_HEADER;
      return need < head ? ENTRY_HEADER : NONE;
    }
    // wrapped: free space is [tail, head). Tail never catches up with head, so that
    // head === tail always means empty.
    return tail + need < head ? tail + ENTRY_HEADER : NONE;
  }

  /** Records the packet just encoded at `offset` (from {@link reserve}). */
  commit(offset: number, size: number, qos: number, token: number): void {
    const r = this.ring;
    const at = offset - ENTRY_HEADER;
    // a cursor that has caught up with the tail must follow it to the new entry, even
    // across a wrap: the old tail position may be reused by later entries
    const caughtUp = this.entries === 0 || this.normalize(this.cursor) === this.tail;
    if (at !== this.tail) {
      // wrapped: mark the skipped end, if a state byte fits there
      if (this.tail < r.length) r[this.tail] = WRAP;
      this.bytes += r.length - this.tail;
    }
    r[at] = QUEUED;
    r[at + 1] = qos;
    r[at + 2] = 0;
    r[at + 3] = 0;
    this.view.setUint32(at + 4, size);
    this.view.setUint32(at + 8, token);
    this.tail = at + ENTRY_HEADER + size;
    this.bytes += ENTRY_HEADER + size;
    this.entries++;
    this.live++;
    if (caughtUp) this.cursor = at;
  }

  /** Entry offset after `at`, following a wrap. */
  private after(at: number): number {
    const next = at + ENTRY_HEADER + this.view.getUint32(at + 4);
    return this.normalize(next);
  }

  private normalize(at: number): number {
    if (at === this.tail) return at;
    if (at + ENTRY_HEADER > this.ring.length || this.ring[at] === WRAP) return 0;
    return at;
  }

  /**
   * The next entry to send, or {@link NONE}: none left, or a QoS 1 message waits for a free slot in
   * the window. Returns the entry's packet offset; its length is {@link sizeAt}.
   */
  next(): number {
    if (this.entries === 0) return NONE;
    let at = this.normalize(this.cursor);
    while (at !== this.tail) {
      const state = this.ring[at];
      // SENT here means a resend after a rewind: it keeps its slot and packet id
      if (state === SENT || (state === QUEUED && (this.ring[at + 1] === 0 || this.inflight < this.slotId.length))) {
        this.cursor = at;
        return at + ENTRY_HEADER;
      }
      if (state === QUEUED) break; // QoS 1 waiting for a window slot
      at = this.after(at);
    }
    this.cursor = at;
    return NONE;
  }

  sizeAt(offset: number): number {
    return this.view.getUint32(offset - ENTRY_HEADER + 4);
  }

  qosAt(offset: number): number {
    return this.ring[offset - ENTRY_HEADER + 1];
  }

  tokenAt(offset: number): number {
    return this.view.getUint32(offset - ENTRY_HEADER + 8);
  }

  /** Whether the entry was sent before (it goes again with DUP=1 and the same id). */
  isResend(offset: number): boolean {
    return this.ring[offset - ENTRY_HEADER] === SENT;
  }

  /**
   * The QoS 1 entry at `offset` goes out with packet id `id` (the caller picked a free one
   * and wrote it into the packet): it takes a window slot and counts as sent from now on,
   * so a connection lost halfway through the write resends it with DUP=1.
   */
  assign(offset: number, id: number): void {
    const at = offset - ENTRY_HEADER;
    const k = this.inflight++;
    this.slotEntry[k] = at;
    this.slotId[k] = id;
    this.ring[at] = SENT;
    this.ring[at + 2] = id >> 8;
    this.ring[at + 3] = id & 0xff;
  }

  /** Packet id of an entry in flight. */
  idAt(offset: number): number {
    const at = offset - ENTRY_HEADER;
    return (this.ring[at + 2] << 8) | this.ring[at + 3];
  }

  /** Whether packet id `id` is in flight. */
  holds(id: number): boolean {
    const ids = this.slotId;
    for (let k = 0; k < this.inflight; k++) if (ids[k] === id) return true;
    return false;
  }

  /**
   * The entry at `offset` was written whole: a QoS 0 message is done (its token is
   * returned), a QoS 1 message waits for its PUBACK ({@link AWAITING_ACK}). Moves the cursor past it.
   */
  written(offset: number): number {
    const at = offset - ENTRY_HEADER;
    this.cursor = this.after(at);
    if (this.ring[at + 1] !== 0) return AWAITING_ACK;
    const token = this.view.getUint32(at + 8);
    this.ring[at] = DONE;
    this.live--;
    this.collect();
    return token;
  }

  /**
   * PUBACK for `id`: returns the acknowledged entry's token, {@link ACKED_AFTER_DROP} for a
   * message dropped while in flight, or {@link UNKNOWN_ID} for an id not in flight.
   */
  ack(id: number): number {
    const ids = this.slotId;
    for (let k = 0; k < this.inflight; k++) {
      if (ids[k] !== id) continue;
      const at = this.slotEntry[k];
      this.release(k);
      if (at === DROPPED) return ACKED_AFTER_DROP;
      const token = this.view.getUint32(at + 8);
      this.ring[at] = DONE;
      this.live--;
      this.collect();
      return token;
    }
    return UNKNOWN_ID;
  }

  private release(k: number): void {
    const last = --this.inflight;
    this.slotEntry[k] = this.slotEntry[last];
    this.slotId[k] = this.slotId[last];
  }

  /** Frees finished entries at the head. */
  private collect(): void {
    const r = this.ring;
    while (this.entries > 0) {
      const at = this.normalize(this.head);
      if (at !== this.head) {
        this.bytes -= r.length - this.head;
        this.head = at;
      }
      if (r[at] !== DONE) return;
      const size = ENTRY_HEADER + this.view.getUint32(at + 4);
      this.bytes -= size;
      this.entries--;
      this.head = at + size;
      if (this.cursor === at) this.cursor = this.normalize(this.head);
    }
    this.head = this.tail = this.cursor = 0;
    this.bytes = 0;
  }

  /** Nothing waits to be sent (queued, or a resend after a rewind): a new packet may go out ahead of the outbox. */
  idle(): boolean {
    return this.live === 0 || this.normalize(this.cursor) === this.tail;
  }

  /**
   * After a reconnect: send again from the oldest entry. Slots of dropped messages are
   * freed: the new connection will not acknowledge them.
   */
  rewind(): void {
    this.cursor = this.normalize(this.head);
    for (let k = 0; k < this.inflight; ) {
      if (this.slotEntry[k] === DROPPED) this.release(k);
      else k++;
    }
  }

  /** Offset of the oldest message's packet, or {@link NONE}. */
  oldest(): number {
    return this.live > 0 ? this.normalize(this.head) + ENTRY_HEADER : NONE;
  }

  /**
   * Drops the oldest message whatever its state; returns its token. A message already on
   * the wire keeps its window slot and packet id until its PUBACK or the next reconnect,
   * so dropping never lets more than the window go unacknowledged.
   */
  dropOldest(): number {
    const at = this.normalize(this.head);
    const token = this.view.getUint32(at + 8);
    if (this.ring[at] === SENT) {
      for (let k = 0; k < this.inflight; k++) if (this.slotEntry[k] === at) this.slotEntry[k] = DROPPED;
    }
    this.ring[at] = DONE;
    this.live--;
    this.collect();
    return token;
  }

  /** Forgets everything. */
  clear(): void {
    this.head = this.tail = this.cursor = 0;
    this.entries = this.live = this.bytes = this.inflight = 0;
  }
}
