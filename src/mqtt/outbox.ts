/**
 * The outbox: every outgoing PUBLISH, encoded once, in a fixed byte ring, oldest first.
 *
 * A message stays here from `publish()` until it is done: a QoS 0 message until it is
 * written, a QoS 1 message until its PUBACK, a QoS 2 message until its PUBREC. After the
 * PUBREC a QoS 2 message is only its packet id and token in a window slot, "released"
 * (PUBREL is four bytes and needs no payload), until its PUBCOMP; the ring's bytes are
 * free from the PUBREC on, and the PUBLISH is never sent again (§4.3.3). That makes one structure serve as the
 * offline queue (messages published while disconnected wait in order) and as the resend
 * store (after a reconnect, unacknowledged messages go again with DUP=1 and their packet
 * ids, ahead of anything newer). The in-flight window is a fixed table of packet-id slots.
 *
 * Each entry is a 20-byte header followed by the packet, contiguous in the ring; an entry
 * that would not fit before the end starts over at 0 behind a wrap marker. The header keeps
 * what the pump decides at send time by (MQTT 5): which publish topic head the packet's
 * topic is (for a Topic Alias chosen then) and when the message expires.
 */

/** Entry states (header byte 0). */
const QUEUED = 1;
const SENT = 2;
const DONE = 3;
const WRAP = 4;

/** Header: state, qos, packet id (2), packet length (4), token (4), flags, unused, topic head (2), expiry (4). */
export const ENTRY_HEADER = 20;

/** {@link Outbox.headAt}: the entry names no topic head. */
export const NO_HEAD = 0xffff;
/** Header flag: the expiry field holds a deadline. */
const EXPIRES = 1;

/** A window slot whose message was dropped while in flight: it holds its id until the PUBACK (or PUBREC, PUBCOMP). */
const DROPPED = -1;
/** A window slot of a QoS 2 message past its PUBREC: awaiting PUBCOMP. */
const RELEASED = -2;
/** As {@link RELEASED}, for a message dropped before its PUBREC: its PUBCOMP delivers nothing. */
const RELEASED_DROPPED = -3;
/** Int32s per window slot: [entry offset or a marker above, token, PUBREC order]. */
const SLOT = 3;

/** No entry, or no room: what {@link Outbox.reserve}, {@link Outbox.next} and {@link Outbox.oldest} return then. */
export const NONE = -1;

/** {@link Outbox.written} result: a QoS 1 message, written and awaiting its PUBACK. */
export const AWAITING_ACK = -1;

/** {@link Outbox.ack} result: no message in flight has that id. */
export const UNKNOWN_ID = -1;

/** {@link Outbox.ack}/{@link Outbox.pubcomp} result: the ack of a message dropped while in flight. */
export const ACKED_AFTER_DROP = -2;

/** {@link Outbox.ack}/{@link Outbox.pubrec} result: the id is in flight at the other QoS (a PUBACK for QoS 2, a PUBREC for QoS 1). */
export const WRONG_QOS = -3;

/** {@link Outbox.pubrec} result: the first PUBREC for that id; a PUBREL is due. */
export const PUBREC_FIRST = 1;
/** {@link Outbox.pubrec} result: the id was released already (a PUBREC again); the PUBREL is due again. */
export const PUBREC_AGAIN = 2;

export class Outbox {
  readonly ring: Uint8Array;
  /** Header fields through DataView: a native call costs XS a few units, a byte-wise u32 dozens. */
  private view: DataView;
  /** Per window slot (see {@link SLOT}): the entry in flight or a marker, the token of a released message, its PUBREC order. */
  private slots: Int32Array;
  /** Per window slot, the packet id. */
  private slotId: Uint16Array;
  /** PUBRECs counted, for the order of resent PUBRELs. */
  private recs = 0;
  /** `recs` at the last {@link rewind}: a PUBREC numbered at or below it came on an earlier connection. */
  private recsAtConnect = 0;
  /** Released messages awaiting PUBCOMP (not those dropped before their PUBREC): held, but no longer in the ring. */
  private releasedLive = 0;
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
  /**
   * QoS 1 and 2 messages sent at once: the window, or less when the broker announces a
   * smaller Receive Maximum (MQTT 5, §4.9). Ids already in flight keep their slots.
   */
  limit: number;
  /** The slot table's size: QoS 1 and 2 messages held in flight at most. */
  private readonly window: number;
  /**
   * QoS 1 and 2 PUBLISHes sent on this connection, resends included, not yet answered
   * (PUBACK, PUBCOMP, or a failure): the MQTT 5 send quota used (§4.9), which {@link limit}
   * bounds. After a reconnect only what goes out again counts, so a session resumed under a
   * smaller Receive Maximum has its messages resent that many at a time.
   */
  private sentHere = 0;

  constructor(capacity: number, window: number) {
    this.limit = window;
    this.window = window;
    this.ring = new Uint8Array(capacity);
    this.view = new DataView(this.ring.buffer);
    // both slot tables as views of one buffer (fewer XS heap slots than two buffers)
    const slots = new ArrayBuffer(window * (SLOT * 4 + 2));
    this.slots = new Int32Array(slots, 0, window * SLOT);
    this.slotId = new Uint16Array(slots, window * SLOT * 4, window);
  }

  /** Messages held: queued, in flight, or released (QoS 2 past PUBREC, awaiting PUBCOMP). */
  get count(): number {
    return this.live + this.releasedLive;
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

  /**
   * Records the packet just encoded at `offset` (from {@link reserve}). `head`: the index of
   * its topic's head, or {@link NO_HEAD}; `expires`: whether `deadline` (on the platform's
   * wrapping millisecond clock) ends the message's life while it waits.
   */
  commit(offset: number, size: number, qos: number, token: number, head = NO_HEAD, expires = false, deadline = 0): void {
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
    r[at + 12] = expires ? EXPIRES : 0;
    this.view.setUint16(at + 14, head);
    this.view.setUint32(at + 16, deadline >>> 0);
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
   * The next entry to send, or {@link NONE}: none left, or a QoS 1 or 2 message waits for a free slot in
   * the window. Returns the entry's packet offset; its length is {@link sizeAt}.
   */
  next(): number {
    if (this.entries === 0) return NONE;
    let at = this.normalize(this.cursor);
    while (at !== this.tail) {
      const state = this.ring[at];
      // SENT here means a resend after a rewind: it keeps its slot and packet id, and waits
      // for the send quota as a new QoS 1 or 2 message does (which also needs a free slot)
      if (
        (state === SENT && this.sentHere < this.limit) ||
        (state === QUEUED && (this.ring[at + 1] === 0 || (this.inflight < this.window && this.sentHere < this.limit)))
      ) {
        this.cursor = at;
        return at + ENTRY_HEADER;
      }
      if (state === QUEUED || state === SENT) break; // waiting for a window slot or the quota, and all behind it too
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

  /** The topic head index the entry was committed with, or {@link NO_HEAD}. */
  headAt(offset: number): number {
    return this.view.getUint16(offset - ENTRY_HEADER + 14);
  }

  /** Whether the entry has a deadline and `now` (the wrapping millisecond clock) is past it. */
  expiredAt(offset: number, now: number): boolean {
    const at = offset - ENTRY_HEADER;
    return (this.ring[at + 12] & EXPIRES) !== 0 && ((now - this.view.getUint32(at + 16)) | 0) >= 0;
  }

  /** The milliseconds left before the entry's deadline (at least 0), or -1 when it has none. */
  leftMs(offset: number, now: number): number {
    const at = offset - ENTRY_HEADER;
    if ((this.ring[at + 12] & EXPIRES) === 0) return -1;
    const d = (this.view.getUint32(at + 16) - now) | 0;
    return d > 0 ? d : 0;
  }

  /** Every entry forgets its topic head (the heads were replaced): each is sent with its topic as stored. */
  forgetHeads(): void {
    if (this.entries === 0) return;
    let at = this.normalize(this.head);
    while (at !== this.tail) {
      this.view.setUint16(at + 14, NO_HEAD);
      at = this.after(at);
    }
  }

  /**
   * MQTT 5, a reconnect that found no session (after {@link rewind}): the messages in flight
   * go again as new publications (§4.4: the broker has no state for their ids), queued in
   * their places, without DUP, to take new ids. Returns how many.
   */
  renew(dupBit: number): number {
    const s = this.slots;
    let n = 0;
    for (let k = 0; k < this.inflight; ) {
      const at = s[k * SLOT];
      if (at < 0) {
        k++;
        continue;
      }
      this.ring[at] = QUEUED;
      this.ring[at + ENTRY_HEADER] &= ~dupBit;
      this.release(k);
      n++;
    }
    if (n > 0) this.cursor = this.normalize(this.head);
    return n;
  }

  /** Whether the entry was sent before (it goes again with DUP=1 and the same id). */
  isResend(offset: number): boolean {
    return this.ring[offset - ENTRY_HEADER] === SENT;
  }

  /** The resend at `offset` (see {@link isResend}) goes out: it takes its part of the send quota. */
  resending(): void {
    this.sentHere++;
  }

  /** A QoS 1 or 2 PUBLISH sent was answered: its part of the send quota is free (never below none, §4.9). */
  private answered(): void {
    if (this.sentHere > 0) this.sentHere--;
  }

  /**
   * The QoS 1 or 2 entry at `offset` goes out with packet id `id` (the caller picked a free one
   * and wrote it into the packet): it takes a window slot and counts as sent from now on,
   * so a connection lost halfway through the write resends it with DUP=1.
   */
  assign(offset: number, id: number): void {
    const at = offset - ENTRY_HEADER;
    const k = this.inflight++;
    this.sentHere++;
    this.slots[k * SLOT] = at;
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

  /** The slot holding `id`, or -1. */
  private slotOf(id: number): number {
    const ids = this.slotId;
    for (let k = 0; k < this.inflight; k++) if (ids[k] === id) return k;
    return -1;
  }

  /** The entry at ring offset `at` is done: its bytes may be reclaimed. */
  private finish(at: number): void {
    this.ring[at] = DONE;
    this.collect();
  }

  /**
   * PUBACK for `id`: returns the acknowledged entry's token, {@link ACKED_AFTER_DROP} for a
   * message dropped while in flight, {@link WRONG_QOS} for a QoS 2 message (nothing
   * changes), or {@link UNKNOWN_ID} for an id not in flight.
   */
  ack(id: number): number {
    // the slot search inline: this is the QoS 1 hot path
    const ids = this.slotId;
    let k = 0;
    while (k < this.inflight && ids[k] !== id) k++;
    if (k === this.inflight) return UNKNOWN_ID;
    const at = this.slots[k * SLOT];
    if (at < 0) {
      if (at !== DROPPED) return WRONG_QOS;
      this.answered();
      this.release(k);
      return ACKED_AFTER_DROP;
    }
    if (this.ring[at + 1] !== 1) return WRONG_QOS;
    if (this.sentHere > 0) this.sentHere--; // (answered, inline)
    this.release(k);
    const token = this.view.getUint32(at + 8);
    this.live--;
    this.finish(at);
    return token;
  }

  /**
   * A PUBACK for QoS 2 message `id` (one {@link ack} answered {@link WRONG_QOS} for), from a
   * broker that takes QoS 2 as QoS 1: done as a QoS 1 message is, if not yet past its PUBREC.
   * Returns its token, or {@link WRONG_QOS} when it is past its PUBREC (nothing changes).
   */
  ackAtQos1(id: number): number {
    const k = this.slotOf(id);
    if (k < 0) return UNKNOWN_ID;
    const at = this.slots[k * SLOT];
    if (at < 0) return WRONG_QOS;
    this.answered();
    this.release(k);
    const token = this.view.getUint32(at + 8);
    this.live--;
    this.finish(at);
    return token;
  }

  /**
   * A PUBACK or PUBREC with a failure reason code (MQTT 5, §4.3.2, §4.3.3) for `id`: the
   * message is done, not delivered, and not retried. Returns its token,
   * {@link ACKED_AFTER_DROP} for one dropped while in flight, or {@link UNKNOWN_ID} for an id
   * not in flight (or a QoS 2 message already past its PUBREC).
   */
  refuse(id: number): number {
    const k = this.slotOf(id);
    if (k < 0) return UNKNOWN_ID;
    const at = this.slots[k * SLOT];
    if (at === DROPPED) {
      this.answered();
      this.release(k);
      return ACKED_AFTER_DROP;
    }
    if (at < 0) return UNKNOWN_ID;
    this.answered();
    this.release(k);
    return this.retire(at);
  }

  /**
   * Takes the entry at `offset` (from {@link next}, not yet written) out unsent, because the
   * connection's limits forbid it (the broker's Maximum QoS, Retain Available, Maximum Packet
   * Size); a resend gives up its slot. Returns its token.
   */
  discard(offset: number): number {
    const at = offset - ENTRY_HEADER;
    this.cursor = this.after(at);
    if (this.ring[at] === SENT) {
      const k = this.slotOf((this.ring[at + 2] << 8) | this.ring[at + 3]);
      if (k >= 0) this.release(k);
    }
    return this.retire(at);
  }

  /** A held message at ring offset `at` leaves the outbox undelivered: its token. (ack() does the same inline: the QoS 1 hot path.) */
  private retire(at: number): number {
    const token = this.view.getUint32(at + 8);
    this.live--;
    this.finish(at);
    return token;
  }

  /**
   * PUBREC for `id` (§4.3.3): the QoS 2 message is acknowledged; its bytes are freed and
   * its slot keeps only the id and token until the PUBCOMP. Returns {@link PUBREC_FIRST}
   * or {@link PUBREC_AGAIN} (a PUBREL is due either way), {@link WRONG_QOS} for a QoS 1
   * message, or {@link UNKNOWN_ID}.
   */
  pubrec(id: number): number {
    const k = this.slotOf(id);
    if (k < 0) return UNKNOWN_ID;
    const s = this.slots;
    const at = s[k * SLOT];
    if (at === RELEASED || at === RELEASED_DROPPED) return PUBREC_AGAIN;
    s[k * SLOT + 2] = ++this.recs;
    if (at === DROPPED) {
      s[k * SLOT] = RELEASED_DROPPED;
      return PUBREC_FIRST;
    }
    if (this.ring[at + 1] !== 2) return WRONG_QOS;
    s[k * SLOT] = RELEASED;
    s[k * SLOT + 1] = this.view.getUint32(at + 8);
    this.live--;
    this.releasedLive++;
    this.finish(at);
    return PUBREC_FIRST;
  }

  /**
   * PUBCOMP for `id`: the released message is done. Returns its token,
   * {@link ACKED_AFTER_DROP} for one dropped before its PUBREC, or {@link UNKNOWN_ID}
   * when no released message has that id.
   */
  pubcomp(id: number): number {
    const k = this.slotOf(id);
    if (k < 0) return UNKNOWN_ID;
    const at = this.slots[k * SLOT];
    if (at !== RELEASED && at !== RELEASED_DROPPED) return UNKNOWN_ID;
    const token = this.slots[k * SLOT + 1] >>> 0;
    // a message released on an earlier connection took no quota on this one (its PUBREL does not count)
    if (((this.slots[k * SLOT + 2] - this.recsAtConnect) | 0) > 0) this.answered(); // (as int32: the count wraps in the slot table)
    this.release(k);
    if (at === RELEASED_DROPPED) return ACKED_AFTER_DROP;
    this.releasedLive--;
    return token;
  }

  /**
   * After {@link rewind}: the id of the `n`-th released message in the order its PUBREC
   * came (n from 0), or {@link NONE}; their PUBRELs go again in that order.
   */
  releasedId(n: number): number {
    return n < this.inflight && this.slots[n * SLOT] <= RELEASED ? this.slotId[n] : NONE;
  }

  /**
   * The broker kept no session: the released messages' ids mean nothing to it any more.
   * The PUBREC acknowledged each (the broker owned it from then on), so each is done:
   * returns the token of one (or {@link ACKED_AFTER_DROP} for one dropped) and frees its
   * slot; {@link NONE} when none is left.
   */
  forgetReleased(): number {
    for (let k = 0; k < this.inflight; k++) {
      const at = this.slots[k * SLOT];
      if (at > RELEASED) continue;
      const token = this.slots[k * SLOT + 1] >>> 0;
      this.release(k);
      if (at === RELEASED_DROPPED) return ACKED_AFTER_DROP;
      this.releasedLive--;
      return token;
    }
    return NONE;
  }

  private release(k: number): void {
    const last = --this.inflight;
    const s = this.slots;
    s[k * SLOT] = s[last * SLOT];
    s[k * SLOT + 1] = s[last * SLOT + 1];
    s[k * SLOT + 2] = s[last * SLOT + 2];
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
   * After a reconnect: send again from the oldest entry. Slots of messages dropped before
   * any PUBREC are freed (the new connection will not acknowledge them); released slots
   * are put first, in the order their PUBRECs came, for {@link releasedId}.
   */
  rewind(): void {
    this.cursor = this.normalize(this.head);
    this.sentHere = 0; // a new connection, a new send quota (§4.9)
    this.recsAtConnect = this.recs | 0;
    const s = this.slots;
    for (let k = 0; k < this.inflight; ) {
      if (s[k * SLOT] === DROPPED) this.release(k);
      else k++;
    }
    // released first, by PUBREC order (a small table: insertion sort; compared as int32, the order wrapping in the slot table)
    let released = 0;
    for (let k = 0; k < this.inflight; k++) {
      if (s[k * SLOT] > RELEASED) continue;
      let j = released++;
      this.swap(j, k);
      while (j > 0 && ((s[(j - 1) * SLOT + 2] - s[j * SLOT + 2]) | 0) > 0) {
        this.swap(j - 1, j);
        j--;
      }
    }
  }

  private swap(a: number, b: number): void {
    if (a === b) return;
    const s = this.slots;
    for (let i = 0; i < SLOT; i++) {
      const t = s[a * SLOT + i];
      s[a * SLOT + i] = s[b * SLOT + i];
      s[b * SLOT + i] = t;
    }
    const id = this.slotId[a];
    this.slotId[a] = this.slotId[b];
    this.slotId[b] = id;
  }

  /** Offset of the oldest message's packet in the ring, or {@link NONE}. */
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
      for (let k = 0; k < this.inflight; k++) if (this.slots[k * SLOT] === at) this.slots[k * SLOT] = DROPPED;
    }
    this.ring[at] = DONE;
    this.live--;
    this.collect();
    return token;
  }

  /** Forgets everything. */
  clear(): void {
    this.head = this.tail = this.cursor = 0;
    this.entries = this.live = this.bytes = this.inflight = this.releasedLive = this.sentHere = 0;
  }
}
