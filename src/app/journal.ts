/**
 * The readings journal: readings that survive a reboot, a watchdog reset or a power cut.
 *
 * A reading taken while the client is not connected (or has its window full) is appended
 * to one file on flash before anything else happens. A reading taken while it is connected
 * is forwarded at once from RAM and written only if the broker has not acknowledged it
 * within `grace` ms (default 1 s): a healthy connection acknowledges in milliseconds, so
 * online readings cost no flash at all, and a power cut can lose at most the readings of
 * the last `grace` ms that were in flight on a live connection. An acknowledgement record
 * is appended once the broker has a written reading (QoS 1 PUBACK, QoS 2 PUBCOMP, QoS 0
 * once written). At boot the file is read back and every reading without an
 * acknowledgement is published again, with the payload it was taken with (its sample time
 * and sequence number). The journal, not the client's RAM outbox, is the offline queue:
 * the client is only ever given a window of readings at a time.
 *
 * The sequence number is kept apart (`sequence`, a setting in NVS on a device), saved
 * once per commit that took readings, because online readings never reach the file.
 *
 * The budget (bytes and records of readings not yet acknowledged) holds across reboots:
 * a new reading that does not fit drops the oldest one waiting, and each drop is recorded,
 * so `dropped` counts every reading lost since the journal was made.
 *
 * File format: a sequence of records, big-endian,
 *
 *   [type u8][topic length u8][payload length u16][seq u32][topic][payload][crc32 u32]
 *
 * where the CRC-32 (IEEE) covers the record's bytes before it. Types:
 *   'H' head      seq: the next sequence number; payload: "XSJ1", dropped u32. First in a
 *                 compacted file.
 *   'R' reading   seq: its sequence number; topic and payload as published.
 *   'A' acked     seq: a reading the broker has.
 *   'D' dropped   seq: a reading dropped to keep the budget.
 * A record that is cut short or fails its checksum ends the file: that is a torn last
 * write (power lost while writing). The loader cuts the file there, counts the bytes, and
 * carries on with everything before it.
 *
 * Flash wear: littlefs copies a file's last block into a freshly erased one at every sync
 * that appends, so each sync costs about one block erase: hence no sync at all for
 * readings acknowledged within the grace, and one sync for all records of one sample, or
 * for all acknowledgements of one event loop turn. When the file passes `compactAt`
 * bytes it is rewritten with only the readings still held (a new file, then a rename,
 * so a power cut leaves the old file or the new one). See README, "Readings that survive
 * a reboot", for the bytes written per reading.
 */
import type { MqttClient, PublishOptions } from "../mqtt/client.js";
import type { Timer } from "../mqtt/platform.js";
import { decodeUtf8 } from "../mqtt/utf8.js";
import type { Files, StoredFile } from "./board.js";

export const HEAD = 0x48;
export const READING = 0x52;
export const ACKED = 0x41;
export const DROPPED = 0x44;

/** Bytes before a record's topic, and after its payload. */
export const RECORD_HEAD = 8;
export const RECORD_TAIL = 4;
/** A record with no topic and no payload ('A', 'D'). */
export const MARK_SIZE = RECORD_HEAD + RECORD_TAIL;
/** Longest payload a reading may have. */
export const MAX_PAYLOAD = 1024;
const MAX_RECORD = RECORD_HEAD + 255 + MAX_PAYLOAD + RECORD_TAIL;
const MAGIC = [0x58, 0x53, 0x4a, 0x31]; // "XSJ1"

const CRC_TABLE = /* @__PURE__ */ (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zlib) of `b[start, end)`. */
export function crc32(b: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

function get32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

// entry states
const WAITING = 0; // in the journal, not given to the client
const FED = 1; // given to the client, which has not yet said it was delivered
const DONE = 2; // acknowledged or dropped: gone once it reaches the head of the ring

export interface JournalOptions {
  /** Bytes of readings held unacknowledged (records as stored). */
  budget: number;
  /** Readings held at most (default budget / 64, at least 16). */
  records?: number;
  /** File length that starts a rewrite (default twice the budget, at least 4 KB). */
  compactAt?: number;
  /** Readings given to the client at once (default 8). */
  window?: number;
  /** File name (default "readings.log"; the rewrite goes through "<name>.new"). */
  name?: string;
  /** Ms a reading forwarded on a live connection may wait in RAM for its acknowledgement before it is written (default 1000; 0 writes every reading first). */
  grace?: number;
  /** Where the next sequence number is kept (a setting); default only the file, which lacks readings acknowledged within the grace. */
  sequence?: { load(): number; save(next: number): void };
}

export interface JournalStats {
  /** Readings accepted since the journal was made (the next sequence number). */
  taken: number;
  /** Readings dropped to keep the budget, since the journal was made. */
  dropped: number;
  /** Readings recovered from the file at this boot, not yet acknowledged. */
  recovered: number;
  /** Bytes cut off a torn or corrupt end of the file at this boot. */
  tornBytes: number;
  /** Bytes written to the file (and its rewrites) since this boot. */
  bytesWritten: number;
  /** Readings acknowledged within the grace, never written. */
  unwritten: number;
  /** Syncs (flash commits) since this boot. */
  syncs: number;
  /** Rewrites since this boot. */
  compactions: number;
  /** Writes that failed (the file is then reopened; readings stay in RAM meanwhile). */
  writeErrors: number;
}

/** The journal file and its index of held readings. */
export class Journal {
  readonly stats: JournalStats = { taken: 0, dropped: 0, recovered: 0, tornBytes: 0, bytesWritten: 0, unwritten: 0, syncs: 0, compactions: 0, writeErrors: 0 };
  private files: Files;
  private readonly name: string;
  private readonly temp: string;
  private readonly budget: number;
  private readonly compactAt: number;
  private readonly window: number;
  private readonly grace: number;
  private readonly sequence: { load(): number; save(next: number): void } | null;
  private savedSeq = -1;
  private file: StoredFile | null = null;
  private fileSize = 0;

  // the ring of held readings, in sequence order
  private readonly cap: number;
  private readonly seqs: Uint32Array;
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint16Array;
  private readonly states: Uint8Array;
  private readonly tokens: Uint32Array;
  /** 1: the record is in `deferred` (forwarded on a live connection, not yet written), at `offsets`. */
  private readonly inRam: Uint8Array;
  private head = 0;
  private count = 0;
  private heldBytes = 0;
  private held = 0;
  private fed = 0;

  /** Records not yet written: appended by take/ack, written by commit. */
  private readonly pending = new Uint8Array(2048);
  private pendingLength = 0;
  /** Records forwarded within the grace, not yet written. */
  private readonly deferred = new Uint8Array(1024);
  private deferredLength = 0;
  private readonly graceTimer: Timer | null;
  private graceArmed = false;
  /** One record, read back from the file. */
  private readonly scratch = new Uint8Array(MAX_RECORD);
  /** Payload views of `scratch`, by length (direct-mapped), so forwarding allocates no view per reading. */
  private readonly views: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(32).fill(undefined);
  /** Topics the app publishes readings to, with their UTF-8, so a held reading's topic costs no string. */
  private topics: string[] = [];
  private topicBytes: Uint8Array[] = [];

  private readonly flushTimer: Timer | null;
  /** Set while `forward` is inside `publish`: a QoS 0 delivery reported before publish returns. */
  private deliveredNow = -1;
  /** The client readings are forwarded to, and at which QoS. */
  private client: MqttClient | null = null;
  private options: PublishOptions = {};
  private forwarding = false;

  constructor(files: Files, options: JournalOptions, timer?: (callback: () => void) => Timer) {
    this.files = files;
    this.name = options.name ?? "readings.log";
    this.temp = `${this.name}.new`;
    this.budget = options.budget;
    this.cap = Math.max(16, options.records ?? options.budget >> 6);
    this.compactAt = options.compactAt ?? Math.max(4096, 2 * options.budget);
    this.window = options.window ?? 8;
    this.seqs = new Uint32Array(this.cap);
    this.offsets = new Uint32Array(this.cap);
    this.lengths = new Uint16Array(this.cap);
    this.states = new Uint8Array(this.cap);
    this.tokens = new Uint32Array(this.cap);
    this.inRam = new Uint8Array(this.cap);
    this.grace = timer ? (options.grace ?? 1000) : 0;
    this.sequence = options.sequence ?? null;
    this.graceTimer =
      timer && this.grace > 0
        ? timer(() => {
            this.graceArmed = false;
            this.persist();
          })
        : null;
    this.flushTimer = timer
      ? timer(() => {
          this.commit();
          this.forward();
        })
      : null;
    this.load();
  }

  /** Readings held (taken, not yet acknowledged nor dropped). */
  get queued(): number {
    return this.held;
  }

  /** The sequence number the next reading gets. */
  get nextSeq(): number {
    return this.stats.taken;
  }

  /** The topics readings go to: a held reading for one of them is published with that string. */
  setTopics(topics: string[], bytes: Uint8Array[]): void {
    this.topics = topics;
    this.topicBytes = bytes;
  }

  // ---------------------------------------------------------------- boot

  private load(): void {
    const files = this.files;
    try {
      files.remove(this.temp); // a rewrite that did not finish: the old file is whole
    } catch {
      // nothing to remove
    }
    let f: StoredFile | null;
    try {
      f = files.open(this.name, true);
      if (!f) throw new Error("cannot create");
    } catch {
      // no flash: readings survive outages in RAM, not reboots
      this.stats.writeErrors++;
      this.files = new MemoryFiles();
      this.file = this.files.open(this.name, true);
      return;
    }
    this.file = f;
    const s = this.scratch;
    let size = 0;
    let at = 0;
    let rewrite = false;
    try {
      size = f.size();
    } catch {
      this.stats.writeErrors++;
    }
    while (at < size) {
      let n = 0;
      try {
        n = this.readRecord(f, at, size);
      } catch {
        this.stats.writeErrors++; // flash refused a read: what follows is treated as torn
      }
      if (n === 0) break;
      const type = s[0];
      const seq = get32(s, 4);
      if (type === READING) {
        if (this.count === this.cap) rewrite = this.dropOldest(false) || rewrite;
        if (this.count < this.cap) this.push(seq, at, n);
        if (seq + 1 > this.stats.taken) this.stats.taken = seq + 1;
      } else if (type === ACKED) this.finish(seq);
      else if (type === DROPPED) {
        if (this.finish(seq)) this.stats.dropped++;
      } else if (type === HEAD) {
        this.stats.taken = seq;
        this.stats.dropped = get32(s, RECORD_HEAD + 4);
      }
      at += n;
    }
    if (at < size) {
      this.stats.tornBytes = size - at;
      try {
        f.truncate(at);
        f.sync();
      } catch {
        this.stats.writeErrors++;
      }
    }
    this.fileSize = at;
    if (this.sequence) {
      const next = this.sequence.load();
      if (next > this.stats.taken) this.stats.taken = next;
      this.savedSeq = this.stats.taken;
    }
    // a smaller budget than the one the file was written with
    while (this.heldBytes > this.budget && this.dropOldest(false)) rewrite = true;
    this.stats.recovered = this.held;
    // drops at boot are kept by a rewrite, whose head holds the count
    if (rewrite) this.compact();
  }

  /**
   * Reads the record at `at` into `scratch` and checks it; returns its length, or 0 when
   * it is cut short, malformed, or fails its checksum.
   */
  private readRecord(f: StoredFile, at: number, size: number): number {
    const s = this.scratch;
    if (size - at < MARK_SIZE) return 0;
    if (f.read(this.view(RECORD_HEAD), at) !== RECORD_HEAD) return 0;
    const type = s[0];
    const topicLength = s[1];
    const payloadLength = (s[2] << 8) | s[3];
    if (payloadLength > MAX_PAYLOAD) return 0;
    if (type === READING) {
      if (topicLength === 0) return 0;
    } else if (type === HEAD) {
      if (topicLength !== 0 || payloadLength !== 8) return 0;
    } else if (type !== ACKED && type !== DROPPED) return 0;
    else if (topicLength !== 0 || payloadLength !== 0) return 0;
    const n = RECORD_HEAD + topicLength + payloadLength + RECORD_TAIL;
    if (at + n > size) return 0;
    if (f.read(this.view(n), at) !== n) return 0;
    if (crc32(s, 0, n - RECORD_TAIL) !== get32(s, n - RECORD_TAIL)) return 0;
    if (type === HEAD) for (let i = 0; i < 4; i++) if (s[RECORD_HEAD + i] !== MAGIC[i]) return 0;
    return n;
  }

  // ---------------------------------------------------------------- the ring

  private push(seq: number, offset: number, length: number, inRam = 0): void {
    const i = (this.head + this.count) % this.cap;
    this.inRam[i] = inRam;
    this.seqs[i] = seq;
    this.offsets[i] = offset;
    this.lengths[i] = length;
    this.states[i] = WAITING;
    this.tokens[i] = 0;
    this.count++;
    this.held++;
    this.heldBytes += length;
  }

  /** At boot: ends held reading `seq` (an 'A' or 'D' record); false when it is not held. */
  private finish(seq: number): boolean {
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) % this.cap;
      if (this.seqs[i] !== seq || this.states[i] === DONE) continue;
      this.end(i);
      return true;
    }
    return false;
  }

  private end(i: number): void {
    if (this.states[i] === FED) this.fed--;
    this.states[i] = DONE;
    this.held--;
    this.heldBytes -= this.lengths[i];
    while (this.count > 0 && this.states[this.head] === DONE) {
      this.head = (this.head + 1) % this.cap;
      this.count--;
    }
  }

  /**
   * Drops the oldest reading the client has not been given, and counts it; false when there
   * is none. `write` records the drop in the file (at boot a rewrite records it instead).
   */
  private dropOldest(write: boolean): boolean {
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) % this.cap;
      if (this.states[i] !== WAITING) continue;
      if (this.inRam[i] === 1) this.persist(); // written first, so that its drop is on record
      const seq = this.seqs[i];
      this.end(i);
      this.stats.dropped++;
      if (write) this.mark(DROPPED, seq);
      return true;
    }
    return false;
  }

  /** `scratch[0, n)`, from a small cache of views by length, so reading records back allocates no view each. */
  private view(n: number): Uint8Array {
    const k = n & 31;
    let v = this.views[k];
    if (v === undefined || v.length !== n) this.views[k] = v = this.scratch.subarray(0, n);
    return v;
  }

  // ---------------------------------------------------------------- writing

  /** Appends an 'A' or 'D' record to the pending writes (a full buffer is committed first, or the mark waits in RAM). */
  private mark(type: number, seq: number): void {
    if (this.pendingLength + MARK_SIZE > this.pending.length && !this.commit()) return;
    const b = this.pending;
    const at = this.pendingLength;
    b[at] = type;
    b[at + 1] = 0;
    b[at + 2] = 0;
    b[at + 3] = 0;
    put32(b, at + 4, seq);
    put32(b, at + RECORD_HEAD, crc32(b, at, at + RECORD_HEAD));
    this.pendingLength += MARK_SIZE;
  }

  /**
   * Accepts a reading to `topic` (its UTF-8) with `payload`: held, and written at the next
   * {@link commit}. Returns its sequence number, or -1 when it cannot be held (longer than
   * {@link MAX_PAYLOAD}, or no room even after dropping: counted as dropped).
   */
  take(topic: Uint8Array, payload: Uint8Array): number {
    const seq = this.stats.taken++;
    const n = RECORD_HEAD + topic.length + payload.length + RECORD_TAIL;
    if (topic.length === 0 || topic.length > 255 || payload.length > MAX_PAYLOAD || n > this.budget) {
      this.stats.dropped++;
      return -1;
    }
    while (this.heldBytes + n > this.budget || this.count === this.cap) {
      if (!this.dropOldest(true)) {
        this.stats.dropped++;
        return -1;
      }
    }
    // forwarded at once on a live connection: kept in RAM for the grace
    const client = this.client;
    let defer = this.graceTimer !== null && client !== null && client.connected;
    if (defer) {
      // only when it will be forwarded at once: no backlog on flash ahead of it, and room in the window
      let ahead = this.fed;
      for (let k = 0; k < this.count && defer; k++) {
        const i = (this.head + k) % this.cap;
        if (this.states[i] !== WAITING) continue;
        if (this.inRam[i] === 0) defer = false;
        else ahead++;
      }
      defer = defer && ahead < this.window;
    }
    if (defer && this.deferredLength + n > this.deferred.length) {
      this.persist();
      if (this.deferredLength + n > this.deferred.length) defer = false; // flash refused: it goes the written way
    }
    if (!defer && this.pendingLength + n > this.pending.length && !this.commit()) {
      this.stats.dropped++; // flash refuses writes and RAM is full
      return -1;
    }
    const b = defer ? this.deferred : this.pending;
    const at = defer ? this.deferredLength : this.pendingLength;
    b[at] = READING;
    b[at + 1] = topic.length;
    b[at + 2] = payload.length >> 8;
    b[at + 3] = payload.length & 0xff;
    put32(b, at + 4, seq);
    b.set(topic, at + RECORD_HEAD);
    b.set(payload, at + RECORD_HEAD + topic.length);
    put32(b, at + n - RECORD_TAIL, crc32(b, at, at + n - RECORD_TAIL));
    if (defer) {
      this.push(seq, at, n, 1);
      this.deferredLength += n;
      if (!this.graceArmed) {
        this.graceArmed = true; // from the oldest record in RAM: none waits longer than the grace
        this.graceTimer!.set(this.grace);
      }
    } else {
      this.push(seq, this.fileSize + at, n);
      this.pendingLength += n;
    }
    return seq;
  }

  /**
   * Writes the readings still held in RAM (forwarded, not yet acknowledged): when their
   * grace is over, when the connection is lost, and before a stop.
   */
  persist(): void {
    if (this.deferredLength > 0) {
      const d = this.deferred;
      for (let k = 0; k < this.count; k++) {
        const i = (this.head + k) % this.cap;
        if (this.inRam[i] !== 1 || this.states[i] === DONE) continue;
        const n = this.lengths[i];
        if (this.pendingLength + n > this.pending.length && !this.commit()) return; // flash refuses: they stay in RAM, tried again later
        this.pending.set(d.subarray(this.offsets[i], this.offsets[i] + n), this.pendingLength);
        this.offsets[i] = this.fileSize + this.pendingLength;
        this.inRam[i] = 0;
        this.pendingLength += n;
      }
      this.deferredLength = 0;
      this.graceTimer?.clear();
      this.graceArmed = false;
    }
    this.commit();
  }

  /**
   * Writes the pending records in one write and syncs; rewrites the file when it has grown
   * past `compactAt`, or when nothing is held and it has passed 512 bytes. False when the
   * write failed: the records stay pending and are tried again at the next commit.
   */
  commit(): boolean {
    const seq = this.sequence;
    if (seq && this.savedSeq !== this.stats.taken) {
      try {
        seq.save(this.stats.taken);
        this.savedSeq = this.stats.taken;
      } catch {
        this.stats.writeErrors++;
      }
    }
    const n = this.pendingLength;
    if (n === 0) return true;
    const f = this.file;
    try {
      if (!f) throw new Error("no file");
      f.write(this.pending.subarray(0, n), this.fileSize);
      f.sync();
    } catch {
      this.stats.writeErrors++;
      this.reopen();
      return false;
    }
    this.pendingLength = 0;
    this.fileSize += n;
    this.stats.bytesWritten += n;
    this.stats.syncs++;
    if (this.fileSize >= this.compactAt || (this.held === 0 && this.fileSize >= 512)) this.compact();
    return true;
  }

  /**
   * Rewrites the file with a head record and the readings still held, into a new file
   * that then replaces the old one.
   */
  private compact(): void {
    const old = this.file;
    if (!old) return;
    const files = this.files;
    let f: StoredFile | null = null;
    try {
      files.remove(this.temp);
      f = files.open(this.temp, true);
      if (!f) throw new Error("cannot create");
      const s = this.scratch;
      // the head: the next sequence number and the drop count
      s[0] = HEAD;
      s[1] = 0;
      s[2] = 0;
      s[3] = 8;
      put32(s, 4, this.stats.taken);
      for (let i = 0; i < 4; i++) s[RECORD_HEAD + i] = MAGIC[i];
      put32(s, RECORD_HEAD + 4, this.stats.dropped);
      put32(s, 16, crc32(s, 0, 16));
      f.write(s.subarray(0, 20), 0);
      let at = 20;
      for (let k = 0; k < this.count; k++) {
        const i = (this.head + k) % this.cap;
        if (this.states[i] === DONE || this.inRam[i] === 1) continue;
        const len = this.lengths[i];
        const view = this.view(len);
        if (old.read(view, this.offsets[i]) !== len) throw new Error("short read");
        f.write(view, at);
        this.offsets[i] = at;
        at += len;
      }
      f.sync();
      f.close();
      old.close();
      this.file = null;
      files.rename(this.temp, this.name);
      this.file = files.open(this.name, false);
      if (!this.file) throw new Error("renamed file is missing");
      this.stats.bytesWritten += at;
      this.stats.syncs++;
      this.stats.compactions++;
      this.fileSize = at;
    } catch {
      this.stats.writeErrors++;
      try {
        f?.close();
      } catch {
        // gone
      }
      this.reopen();
    }
  }

  /**
   * After a failed write or rewrite: opens the file again and cuts it back to what is
   * known to be whole, so the held readings' offsets stay right and pending records can
   * be written after them.
   */
  private reopen(): void {
    try {
      this.file?.close();
    } catch {
      // gone
    }
    try {
      const f = this.files.open(this.name, true);
      if (f && f.size() > this.fileSize) f.truncate(this.fileSize);
      this.file = f;
    } catch {
      this.file = null;
    }
  }

  // ---------------------------------------------------------------- forwarding

  /** Readings go to `client` at `options`' QoS from now on; what an earlier client was given goes again. */
  attach(client: MqttClient, options: PublishOptions): void {
    this.detach();
    this.client = client;
    this.options = options;
  }

  /** The client is gone (closed or replaced): whatever it was given is forwarded again to the next one. */
  detach(): void {
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) % this.cap;
      if (this.states[i] === FED) this.states[i] = WAITING;
    }
    this.fed = 0;
    this.client = null;
  }

  /** Changes the QoS of readings forwarded from now on. */
  setOptions(options: PublishOptions): void {
    this.options = options;
  }

  /**
   * Commits what is pending, then gives the client held readings, oldest first, up to the
   * window, while it is connected: nothing is published that is not yet on flash.
   */
  forward(): void {
    const client = this.client;
    if (!client || !client.connected || this.forwarding) return;
    if (this.pendingLength > 0 && !this.commit()) return;
    this.forwarding = true;
    try {
      // once round the held readings at most: with the ring full (count === cap) the position
      // test alone comes back to 0 and never ends the walk when no reading is waiting
      let p = this.head;
      for (let n = 0; n < this.cap && this.fed < this.window && (p - this.head + this.cap) % this.cap < this.count; n++) {
        const i = p;
        p = (p + 1) % this.cap;
        if (this.states[i] !== WAITING) continue;
        if (!this.send(client, i)) break;
      }
    } finally {
      this.forwarding = false;
    }
  }

  /** Publishes held reading `i`; false when the client cannot take it now. */
  private send(client: MqttClient, i: number): boolean {
    const f = this.file;
    const len = this.lengths[i];
    const s = this.scratch;
    if (this.inRam[i] === 1) s.set(this.deferred.subarray(this.offsets[i], this.offsets[i] + len));
    else if (!f || f.read(this.view(len), this.offsets[i]) !== len) {
      // not where the index says (flash failed): nothing to send it from
      const seq = this.seqs[i];
      this.end(i);
      this.stats.dropped++;
      this.mark(DROPPED, seq);
      return true;
    }
    const topicLength = s[1];
    const payloadLength = (s[2] << 8) | s[3];
    const topic = this.topicOf(s, topicLength);
    // the payload moves to the start of scratch, so one view per length serves every reading
    const start = RECORD_HEAD + topicLength;
    s.copyWithin(0, start, start + payloadLength);
    const payload = this.view(payloadLength);
    this.states[i] = FED;
    this.fed++;
    this.deliveredNow = -1;
    let token: number;
    try {
      token = client.publish(topic, payload, this.options);
    } catch {
      this.states[i] = WAITING; // closed, or its outbox is full: held for later
      this.fed--;
      return false;
    }
    this.tokens[i] = token;
    if (this.deliveredNow === token) this.delivered(token);
    this.deliveredNow = -1;
    return true;
  }

  private topicOf(s: Uint8Array, length: number): string {
    const list = this.topicBytes;
    for (let t = 0; t < list.length; t++) {
      const b = list[t];
      if (b.length !== length) continue;
      let same = true;
      for (let j = 0; j < length && same; j++) same = b[j] === s[RECORD_HEAD + j];
      if (same) return this.topics[t];
    }
    return decodeUtf8(s, RECORD_HEAD, RECORD_HEAD + length); // a topic of an earlier configuration
  }

  /**
   * The client finished publish `token`: the reading it carried is acknowledged (written
   * at the end of this turn, or at the next commit). False when no held reading has it.
   */
  delivered(token: number): boolean {
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) % this.cap;
      if (this.states[i] !== FED || this.tokens[i] !== token) continue;
      const seq = this.seqs[i];
      this.end(i);
      if (this.inRam[i] === 1) this.stats.unwritten++; // never written: nothing to record
      else this.mark(ACKED, seq);
      this.flushTimer?.set(0);
      return true;
    }
    // a QoS 0 message written inside publish, before its token was known
    this.deliveredNow = token;
    return false;
  }

  /** The client let go of publish `token` undelivered (dropped from its outbox): it is held again, to be forwarded later. False when it was not a reading. */
  returned(token: number): boolean {
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) % this.cap;
      if (this.states[i] !== FED || this.tokens[i] !== token) continue;
      this.states[i] = WAITING;
      this.fed--;
      return true;
    }
    return false;
  }

  /** Writes what is pending and closes the file. */
  close(): void {
    this.persist();
    this.flushTimer?.clear();
    try {
      this.file?.close();
    } catch {
      // gone
    }
    this.file = null;
  }
}

/** Files in RAM: what a board without flash gives the journal (readings then survive outages, not reboots). */
export class MemoryFiles implements Files {
  private readonly data = new Map<string, { bytes: Uint8Array; length: number }>();

  open(name: string, create: boolean): StoredFile | null {
    let d = this.data.get(name);
    if (!d) {
      if (!create) return null;
      d = { bytes: new Uint8Array(256), length: 0 };
      this.data.set(name, d);
    }
    const files = this;
    return {
      size: () => files.data.get(name)?.length ?? 0,
      read(into, position) {
        const e = files.data.get(name);
        if (!e || position >= e.length) return 0;
        const n = Math.min(into.length, e.length - position);
        into.set(e.bytes.subarray(position, position + n));
        return n;
      },
      write(bytes, position) {
        const e = files.data.get(name);
        if (!e) throw new Error(`${name} was removed`);
        const end = position + bytes.length;
        if (end > e.bytes.length) {
          const grown = new Uint8Array(Math.max(end, e.bytes.length * 2));
          grown.set(e.bytes.subarray(0, e.length));
          e.bytes = grown;
        }
        e.bytes.set(bytes, position);
        if (end > e.length) e.length = end;
      },
      truncate(length) {
        const e = files.data.get(name);
        if (e && length < e.length) e.length = length;
      },
      sync() {},
      close() {},
    };
  }

  remove(name: string): void {
    this.data.delete(name);
  }

  rename(from: string, to: string): void {
    const d = this.data.get(from);
    if (!d) throw new Error(`no file ${from}`);
    this.data.delete(from);
    this.data.set(to, d);
  }
}
