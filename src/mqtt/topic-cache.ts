/**
 * Recently received PUBLISH topics, so that a topic seen again costs the decoder no UTF-8
 * check and the client no subscription match: a device mostly hears the same few topics.
 *
 * Each slot keeps a topic as 8-byte chunks read as float64 numbers, not as bytes: one
 * DataView read compares eight bytes, which in XS costs a small part of comparing them one
 * by one (28 bytes: about 100 compute against 636). Two chunks compare equal only when
 * their bytes are equal, because the kept topic is valid UTF-8 without U+0000: a NaN
 * chunk (never equal to anything) needs a 0x7f or 0xff byte followed by a byte of
 * 0xf0 or more, so at worst such a topic is never found and is checked each time; the
 * one pair of different bit patterns that compare equal, +0 and -0, needs zero bytes.
 * Topics shorter than 8 bytes are compared byte by byte; those longer than `maxLength`
 * are not kept. Allocates only at construction, and a DataView when the caller's chunks
 * come from another ArrayBuffer than the last (a platform that reads into one fixed
 * buffer, as the Moddable transport does, causes none after the first).
 */
export class TopicCache {
  /** Per slot, a number that changes whenever the slot takes a new topic (never 0). */
  readonly keys: Uint32Array;
  /** Longest topic kept, in bytes. */
  readonly maxLength: number;
  /** Per slot, the topic's length in bytes; -1 for an empty slot. */
  private readonly lengths: Int32Array;
  /** Per slot, the topic in 8-byte chunks; the last chunk is the topic's last 8 bytes. */
  private readonly chunks: Float64Array;
  /** Per slot, topics shorter than 8 bytes. */
  private readonly short: Uint8Array;
  private readonly chunksPer: number;
  /** Misses in a row, and how many more topics to pass over without looking (see find). */
  private misses = 0;
  private resting = 0;
  /** The last find passed over its topic (resting): add keeps nothing for it either. */
  private passed = false;
  /** The slot found or filled last: looked at first. */
  private last = 0;
  /** The slot the next new topic replaces. */
  private victim = 0;
  private serial = 0;
  /** Views of the decoder's own buffer and of the last other buffer seen. */
  private readonly own: Uint8Array;
  private readonly ownView: DataView;
  private otherBuffer: ArrayBufferLike | null = null;
  private otherView: DataView;
  /** The array last looked into, its view, and where its bytes start in that view. */
  private array: Uint8Array | null = null;
  private view: DataView;
  private offset = 0;

  /**
   * @param slots topics kept (at least 1)
   * @param maxLength longest topic kept, in bytes
   * @param own the decoder's receive buffer, whose view is made once here
   * @param restAfter misses in a row after which the cache rests
   * @param restFor topics passed over, not looked for nor kept, while it rests
   */
  constructor(
    slots: number,
    maxLength: number,
    own: Uint8Array,
    private readonly restAfter = 8,
    private readonly restFor = 128,
  ) {
    const n = slots < 1 ? 1 : slots;
    this.maxLength = maxLength;
    this.chunksPer = (maxLength + 7) >> 3;
    // one buffer, four views: a view of an existing buffer costs XS 4 heap slots, a typed array with its own 7
    const chunkBytes = n * this.chunksPer * 8;
    const b = new ArrayBuffer(chunkBytes + n * 16);
    this.chunks = new Float64Array(b, 0, n * this.chunksPer);
    this.keys = new Uint32Array(b, chunkBytes, n);
    this.lengths = new Int32Array(b, chunkBytes + n * 4, n).fill(-1);
    this.short = new Uint8Array(b, chunkBytes + n * 8, n * 8);
    this.own = own;
    this.ownView = new DataView(own.buffer, own.byteOffset, own.byteLength);
    this.otherView = this.view = this.ownView;
  }

  /** The slot holding the topic `d[start, start+length)`, or -1. */
  find(d: Uint8Array, start: number, length: number): number {
    if (this.resting > 0) {
      this.resting--;
      this.passed = true;
      return -1;
    }
    this.passed = false;
    if (d !== this.array) this.use(d);
    const k = this.last;
    if (this.lengths[k] === length && this.equals(k, d, start, length)) {
      this.misses = 0;
      return k;
    }
    const n = this.keys.length;
    for (let j = 0; j < n; j++) {
      if (j !== k && this.lengths[j] === length && this.equals(j, d, start, length)) {
        this.misses = 0;
        return (this.last = j);
      }
    }
    // topics that do not repeat (more of them than slots): looking costs more than it
    // saves, so rest a while and let the caller check and match every topic
    if (++this.misses >= this.restAfter) {
      this.misses = 0;
      this.resting = this.restFor;
    }
    return -1;
  }

  /**
   * Keeps the (valid) topic `d[start, start+length)`, which {@link find} has just
   * missed, in place of the least recently added one; returns its slot, or -1 when it
   * is too long to keep or the cache rests.
   */
  add(d: Uint8Array, start: number, length: number): number {
    if (length > this.maxLength || length <= 0 || this.resting > 0 || this.passed) return -1;
    if (d !== this.array) this.use(d);
    const k = this.victim;
    this.victim = k + 1 === this.keys.length ? 0 : k + 1;
    if (length < 8) {
      for (let i = 0; i < length; i++) this.short[k * 8 + i] = d[start + i];
    } else {
      const view = this.view;
      const base = this.offset + start;
      const chunks = this.chunks;
      let c = k * this.chunksPer;
      const last = base + length - 8;
      for (let o = base; o < last; o += 8) chunks[c++] = view.getFloat64(o);
      chunks[c] = view.getFloat64(last);
    }
    this.lengths[k] = length;
    this.serial = (this.serial + 1) >>> 0 || 1;
    this.keys[k] = this.serial;
    this.last = k;
    return k;
  }

  private equals(k: number, d: Uint8Array, start: number, length: number): boolean {
    if (length < 8) {
      const s = this.short;
      const at = k * 8;
      for (let i = 0; i < length; i++) if (d[start + i] !== s[at + i]) return false;
      return true;
    }
    // whole chunks, then the last eight bytes (overlapping the one before)
    const view = this.view;
    const chunks = this.chunks;
    const base = this.offset + start;
    const last = base + length - 8;
    let c = k * this.chunksPer;
    let o = base;
    while (o < last) {
      if (view.getFloat64(o) !== chunks[c]) return false;
      o += 8;
      c++;
    }
    return view.getFloat64(last) === chunks[c];
  }

  /** Makes `view` and `offset` address `d`'s bytes: the chunk array seen last is remembered. */
  private use(d: Uint8Array): void {
    this.array = d;
    if (d === this.own) {
      this.view = this.ownView;
      this.offset = 0;
      return;
    }
    const b = d.buffer;
    if (b !== this.otherBuffer) {
      this.otherBuffer = b;
      this.otherView = new DataView(b);
    }
    this.view = this.otherView;
    this.offset = d.byteOffset;
  }
}
