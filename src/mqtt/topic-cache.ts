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
 *
 * Under MQTT 5.0 ({@link TopicCache.enableBlocks}) each slot also keeps the property block
 * last seen after its topic, with what the decoder's walk of it found (the properties
 * present, their offsets, the counts, the Topic Alias), so a message repeating its block
 * is not walked again; and the last QoS 0 topic and block are kept once more as one run,
 * so such a message costs one compare for both. Blocks are chunks as topics are; one whose
 * chunk reads as ±0 is not kept (it holds zero bytes, which a topic cannot), so a kept
 * block compares equal only to its own bytes. A slot whose blocks keep changing rests.
 */
import { PROPERTY_COUNT, type Properties } from "./properties.js";

/** The longest MQTT 5.0 property block kept with a topic, in bytes (its Property Length included). */
const BLOCK_MAX = 64;
const BLOCK_CHUNKS = BLOCK_MAX >> 3;
/** Per slot in `saved`: the value offsets, then present, the two counts, the alias, the first identifier, the Property Length's size. */
const REC = PROPERTY_COUNT + 6;
const BLOCK_MISSES = 2;
const BLOCK_REST = 64;
/** Shared empty arrays, until enableBlocks: a 3.1.1 client's cache holds only references to them. */
const NO_I32 = new Int32Array(0);
const NO_U32 = new Uint32Array(0);
const NO_F64 = new Float64Array(0);
const NO_U8 = new Uint8Array(0);

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
  // MQTT 5.0 (after enableBlocks): per slot, a property block seen with its topic and what
  // walking it gave, so a PUBLISH repeating both costs a compare of the block, not a walk
  /** Per slot, the kept block's length in bytes, -1 for none. */
  private blockLengths = NO_I32;
  /** Per slot, the kept block in 8-byte chunks, as the topics (none of them ±0: see keepBlock); one shorter than 8 bytes as bytes (`blockBytes`, the same memory). */
  private blockChunks = NO_F64;
  private blockBytes = NO_U8;
  /** Per slot, a number that changes whenever the slot keeps another block (never 0). */
  private blockKeys = NO_U32;
  /**
   * Per slot, blocks that missed in a row (their topic found, another block after it), and
   * how many more blocks to pass over without keeping one: a block that changes with every
   * message (a sequence number, a timestamp) costs a compare and a copy each time for
   * nothing, so after {@link BLOCK_MISSES} the slot rests for {@link BLOCK_REST} messages.
   */
  private blockMisses = NO_U8;
  private blockRest = NO_U8;
  /** The walk's results: [0, PROPERTY_COUNT) is the {@link at} view, then {@link REC} numbers per slot. */
  private saved = NO_I32;
  /** The value offsets of the decoder's Properties record, a view of `saved` (so one copyWithin restores them). */
  at = NO_I32;
  private blockSerial = 0;
  /**
   * The last QoS 0 PUBLISH's topic and property block, one run of bytes (they lie side by
   * side): a message repeating both is found by one compare, not two. Its slot, and the
   * slot's topic and block keys when it was kept (the run is good while both hold); -1: none.
   */
  private runChunks = NO_F64;
  private runLength = -1;
  /** The run's topic length, -1 when there is no run: read by the decoder before it calls {@link run}. */
  runTopicLength = -1;
  /** Where the block's properties start, from the topic's start. */
  private runStart = 0;
  private runSlot = 0;

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

  /**
   * MQTT 5.0: keeps property blocks with topics from now on; {@link at} becomes the view the
   * decoder's Properties record is made with. Allocates once: about 210 bytes a slot, and
   * 330 for the run with the default 128-byte topics.
   */
  enableBlocks(): void {
    if (this.blockLengths.length > 0) return;
    const n = this.keys.length;
    this.blockLengths = new Int32Array(n).fill(-1);
    this.blockChunks = new Float64Array(n * BLOCK_CHUNKS);
    this.blockBytes = new Uint8Array(this.blockChunks.buffer);
    this.blockKeys = new Uint32Array(n);
    this.blockMisses = new Uint8Array(n);
    this.blockRest = new Uint8Array(n);
    this.saved = new Int32Array((n + 1) * REC);
    this.at = this.saved.subarray(0, PROPERTY_COUNT);
    // a kept topic and a kept block, in chunks as keepChunks makes them
    this.runChunks = new Float64Array((this.maxLength + BLOCK_MAX + 7) >> 3);
  }

  /**
   * MQTT 5.0, QoS 0: when the topic `d[t, t+tl)` (of the run's length: the caller has
   * compared `tl` with {@link runTopicLength}) and the property block after it, up to `e`,
   * are the run kept last ({@link keepRun}), points `props` at the block with the results of
   * its walk, as {@link block}, and returns the topic's slot; else -1.
   */
  run(d: Uint8Array, t: number, tl: number, e: number, props: Properties): number {
    const n = this.runLength;
    if (t + n > e) return -1;
    if (d !== this.array) this.use(d);
    // (same, inline: the 5.0 receive hot path)
    const view = this.view;
    const chunks = this.runChunks;
    let o = this.offset + t;
    const last = o + n - 8;
    let c = 0;
    while (o < last) {
      if (view.getFloat64(o) !== chunks[c++]) return -1;
      o += 8;
    }
    if (view.getFloat64(last) !== chunks[c]) return -1;
    // the slot still holds this topic and block (add and keepBlock drop the run when they
    // change it); as find, having found the topic (`passed` matters only to an add after a miss)
    const k = this.runSlot;
    this.blockMisses[k] = 0;
    this.misses = 0;
    this.last = k;
    props.data = d;
    props.start = t + this.runStart;
    props.end = t + n;
    if (props.cacheKey !== this.blockKeys[k]) this.restore(k, props);
    return k;
  }

  /** Keeps the topic of slot `k`, `tl` bytes before `at`, and the block the slot keeps at `at`, as the run {@link run} looks for. */
  private keepRun(k: number, at: number, tl: number): void {
    const t = at - tl;
    const n = tl + this.blockLengths[k];
    this.runLength = this.runTopicLength = -1;
    if (n < 8 || !this.keepChunks(this.runChunks, 0, t, n)) return;
    this.runLength = n;
    this.runTopicLength = tl;
    this.runStart = tl + this.saved[(k + 1) * REC + PROPERTY_COUNT + 5];
    this.runSlot = k;
  }

  /**
   * MQTT 5.0: when `d[at, ...)`, up to `e`, starts with the property block kept with slot
   * `k` (which {@link find} has just returned for this PUBLISH's topic), points `props` at it
   * with the results of its walk and returns the offset after it; else -1. With `run` ≥ 0
   * (QoS 0: the topic, of `run` bytes, just before `at`), a block found is kept with its
   * topic as the run too, unless it is already.
   */
  block(k: number, d: Uint8Array, at: number, e: number, props: Properties, run: number): number {
    const n = this.blockLengths[k];
    if (n < 0 || at + n > e) return -1;
    if (n >= 8) {
      if (!this.same(this.blockChunks, k * BLOCK_CHUNKS, at, n)) return -1;
    } else {
      const b = this.blockBytes;
      for (let i = 0, j = k * BLOCK_MAX; i < n; i++) if (d[at + i] !== b[j + i]) return -1;
    }
    this.blockMisses[k] = 0;
    props.data = d;
    props.start = at + this.saved[(k + 1) * REC + PROPERTY_COUNT + 5];
    props.end = at + n;
    if (props.cacheKey !== this.blockKeys[k]) this.restore(k, props);
    if (run >= 0 && (this.runLength < 0 || this.runSlot !== k)) this.keepRun(k, at, run);
    return at + n;
  }

  /** Gives `props` (pointed at the block kept with slot `k`) the results of that block's walk. */
  private restore(k: number, props: Properties): void {
    const r = this.saved;
    const b = (k + 1) * REC;
    props.present = r[b + PROPERTY_COUNT];
    props.userPropertyCount = r[b + PROPERTY_COUNT + 1];
    props.subscriptionIdentifierCount = r[b + PROPERTY_COUNT + 2];
    props.topicAlias = r[b + PROPERTY_COUNT + 3];
    props.subscriptionIdentifier = r[b + PROPERTY_COUNT + 4];
    r.copyWithin(0, b, b + PROPERTY_COUNT);
    props.cacheKey = this.blockKeys[k];
  }

  /**
   * MQTT 5.0: keeps with slot `k` (just found or filled for `d`) the property block
   * `d[at, end)` that `props` holds the walk of, when it is at most {@link BLOCK_MAX}
   * bytes; else the slot keeps none. A block with an 8-byte chunk that
   * reads as ±0 is not kept: +0 and -0 compare equal with different bytes, every other
   * chunk value only with the same (NaN with none), so a kept block is found only by itself.
   * With `run` as {@link block}'s, a block kept is kept with its topic as the run too.
   * Returns whether the block is kept.
   */
  keepBlock(k: number, d: Uint8Array, at: number, end: number, props: Properties, run: number): boolean {
    const n = end - at;
    if (this.blockLengths[k] >= 0) {
      // another block than the one kept: after BLOCK_MISSES in a row, keep none for a while
      this.blockLengths[k] = -1;
      if (k === this.runSlot) this.runLength = this.runTopicLength = -1;
      if (++this.blockMisses[k] >= BLOCK_MISSES) {
        this.blockMisses[k] = 0;
        this.blockRest[k] = BLOCK_REST;
        return false;
      }
    } else if (this.blockRest[k] > 0) {
      this.blockRest[k]--;
      return false;
    }
    if (n < 1 || n > BLOCK_MAX || props.at !== this.at || d !== this.array) return false;
    if (n >= 8) {
      if (!this.keepChunks(this.blockChunks, k * BLOCK_CHUNKS, at, n)) return false;
    } else for (let i = 0, j = k * BLOCK_MAX; i < n; i++) this.blockBytes[j + i] = d[at + i];
    const r = this.saved;
    const b = (k + 1) * REC;
    r.copyWithin(b, 0, PROPERTY_COUNT);
    r[b + PROPERTY_COUNT] = props.present;
    r[b + PROPERTY_COUNT + 1] = props.userPropertyCount;
    r[b + PROPERTY_COUNT + 2] = props.subscriptionIdentifierCount;
    r[b + PROPERTY_COUNT + 3] = props.topicAlias;
    r[b + PROPERTY_COUNT + 4] = props.subscriptionIdentifier;
    r[b + PROPERTY_COUNT + 5] = props.start - at;
    this.blockSerial = (this.blockSerial + 1) >>> 0 || 1;
    this.blockKeys[k] = props.cacheKey = this.blockSerial;
    this.blockLengths[k] = n;
    if (run >= 0) this.keepRun(k, at, run);
    return true;
  }

  /**
   * Puts the `length` (8 or more) bytes at `start` in the array last used into `chunks`
   * from `c`, as {@link same} reads them; false, leaving them unusable, when one chunk is ±0.
   */
  private keepChunks(chunks: Float64Array, c: number, start: number, length: number): boolean {
    const view = this.view;
    const base = this.offset + start;
    const last = base + length - 8;
    for (let o = base; ; o += 8) {
      const x = view.getFloat64(o < last ? o : last);
      if (x === 0) return false;
      chunks[c++] = x;
      if (o >= last) return true;
    }
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
    if (this.lengths[k] === length && (length < 8 ? this.equalsShort(k, d, start, length) : this.same(this.chunks, k * this.chunksPer, start, length))) {
      this.misses = 0;
      return k;
    }
    const n = this.keys.length;
    for (let j = 0; j < n; j++) {
      if (j !== k && this.lengths[j] === length && (length < 8 ? this.equalsShort(j, d, start, length) : this.same(this.chunks, j * this.chunksPer, start, length))) {
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
    if (this.blockLengths.length > 0) {
      this.blockLengths[k] = -1;
      this.blockMisses[k] = this.blockRest[k] = 0;
      if (k === this.runSlot) this.runLength = this.runTopicLength = -1;
    }
    this.serial = (this.serial + 1) >>> 0 || 1;
    this.keys[k] = this.serial;
    this.last = k;
    return k;
  }

  /** Whether slot `k` holds the topic `d[start, start+length)`, shorter than 8 bytes. */
  private equalsShort(k: number, d: Uint8Array, start: number, length: number): boolean {
    const s = this.short;
    const at = k * 8;
    for (let i = 0; i < length; i++) if (d[start + i] !== s[at + i]) return false;
    return true;
  }

  /** Whether the `length` (8 or more) bytes at `start` in the array last used are those kept in `chunks` from `c`. */
  private same(chunks: Float64Array, c: number, start: number, length: number): boolean {
    // whole chunks, then the last eight bytes (overlapping the one before)
    const view = this.view;
    const base = this.offset + start;
    const last = base + length - 8;
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
