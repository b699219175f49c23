/**
 * A small JSON writer into a fixed byte buffer, for readings: numbers are formatted
 * digit by digit (no Number#toString, no string building), and key fragments are
 * encoded once and copied, so writing a reading allocates nothing.
 */
import { utf8Length, writeUtf8 } from "../mqtt/utf8.js";

const DIGITS = new Uint8Array(24);

export class JsonWriter {
  readonly buf: Uint8Array;
  length = 0;
  private fragments = new Map<string, Uint8Array>();

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  reset(): this {
    this.length = 0;
    return this;
  }

  /** Appends `text` verbatim (encoded once, then copied from a cache). */
  raw(text: string): this {
    let bytes = this.fragments.get(text);
    if (bytes === undefined) {
      bytes = new Uint8Array(utf8Length(text));
      writeUtf8(bytes, 0, text);
      this.fragments.set(text, bytes);
    }
    if (this.length + bytes.length > this.buf.length) throw new RangeError("JSON buffer too small");
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  /** Appends `value` with at most `decimals` decimals (trailing zeros dropped); null if not finite. */
  number(value: number, decimals = 2): this {
    if (!Number.isFinite(value)) return this.raw("null");
    const b = this.buf;
    if (this.length + 24 > b.length) throw new RangeError("JSON buffer too small");
    const scale = 10 ** decimals;
    let scaled = Math.round(Math.abs(value) * scale);
    if (value < 0 && scaled > 0) b[this.length++] = 0x2d; // '-'
    let n = 0;
    do {
      DIGITS[n++] = scaled % 10;
      scaled = Math.floor(scaled / 10);
    } while (scaled > 0 || n <= decimals);
    // drop trailing zero decimals
    let low = 0;
    while (low < decimals && DIGITS[low] === 0) low++;
    for (let k = n - 1; k >= decimals; k--) b[this.length++] = 0x30 + DIGITS[k];
    if (low < decimals) {
      b[this.length++] = 0x2e; // '.'
      for (let k = decimals - 1; k >= low; k--) b[this.length++] = 0x30 + DIGITS[k];
    }
    return this;
  }

  /** Appends a JSON string (escapes quotes, backslashes and control characters). */
  string(value: string): this {
    this.raw('"');
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c === 0x22 || c === 0x5c) this.raw(c === 0x22 ? '\\"' : "\\\\");
      else if (c < 0x20) this.raw("\\u00" + (c < 16 ? "0" : "") + c.toString(16));
      else this.raw(value[i]);
    }
    return this.raw('"');
  }

  /** The bytes written so far (a view). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}
