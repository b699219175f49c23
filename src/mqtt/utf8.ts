/**
 * UTF-8 for MQTT strings (MQTT 3.1.1 §1.5.3) with ECMAScript built-ins only:
 * XS on a microcontroller has no TextEncoder, so these walk UTF-16 code units directly
 * and never allocate except in {@link decodeUtf8}, which exists to make a string.
 *
 * In XS, reading a property of a primitive string (`s.length`, `s.charCodeAt`) boxes it in
 * a new String object: two heap slots per access, measured with the xsnap meter. So these
 * walkers call the built-in through {@link code}, which does not box, and stop at the NaN
 * it returns past the end instead of reading `length`.
 */

const charCodeAt = String.prototype.charCodeAt;

/** UTF-16 code unit `i` of `s`, or NaN past its end; allocates nothing on XS. */
export function code(s: string, i: number): number {
  return charCodeAt.call(s, i);
}

/** {@link utf8Length} result: a lone surrogate (no UTF-8 form) or U+0000 (forbidden, §1.5.3). */
export const UTF8_UNSENDABLE = -1;
/** {@link utf8Length} result when asked to refuse wildcards and `+` or `#` is present. */
export const UTF8_HAS_WILDCARD = -2;

/**
 * Bytes `s` takes as MQTT UTF-8, or {@link UTF8_UNSENDABLE}; with `noWildcards`, also
 * {@link UTF8_HAS_WILDCARD} if it contains `+` or `#` (a topic name check in the same pass).
 */
export function utf8Length(s: string, noWildcards = false): number {
  let n = 0;
  for (let i = 0; ; i++) {
    const c = charCodeAt.call(s, i);
    if (c !== c) return n; // NaN: past the end
    if (c < 0x80) {
      if (c === 0) return UTF8_UNSENDABLE;
      if (noWildcards && (c === 0x2b || c === 0x23)) return UTF8_HAS_WILDCARD;
      n += 1;
    } else if (c < 0x800) {
      n += 2;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      if (c >= 0xdc00) return UTF8_UNSENDABLE;
      const d = charCodeAt.call(s, i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return UTF8_UNSENDABLE;
      i++;
      n += 4;
    } else {
      n += 3;
    }
  }
}

/**
 * Writes `s` as UTF-8 at `offset` and returns the offset after it. The caller has
 * checked `s` with {@link utf8Length} and made room; nothing is checked here.
 */
export function writeUtf8(buf: Uint8Array, offset: number, s: string): number {
  for (let i = 0; ; i++) {
    let c = charCodeAt.call(s, i);
    if (c !== c) return offset;
    if (c < 0x80) {
      buf[offset++] = c;
    } else if (c < 0x800) {
      buf[offset++] = 0xc0 | (c >> 6);
      buf[offset++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdbff) {
      c = 0x10000 + ((c - 0xd800) << 10) + (charCodeAt.call(s, ++i) - 0xdc00);
      buf[offset++] = 0xf0 | (c >> 18);
      buf[offset++] = 0x80 | ((c >> 12) & 0x3f);
      buf[offset++] = 0x80 | ((c >> 6) & 0x3f);
      buf[offset++] = 0x80 | (c & 0x3f);
    } else {
      buf[offset++] = 0xe0 | (c >> 12);
      buf[offset++] = 0x80 | ((c >> 6) & 0x3f);
      buf[offset++] = 0x80 | (c & 0x3f);
    }
  }
}

/** {@link scanUtf8} result: bytes are not well-formed UTF-8, or contain U+0000. */
export const UTF8_MALFORMED = -1;
/** {@link scanUtf8} result bit: the text contains `+` or `#`. */
export const UTF8_WILDCARD = 1;

/**
 * Checks `data[start, end)` is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) without U+0000. Returns {@link UTF8_MALFORMED},
 * or 0 / {@link UTF8_WILDCARD} so a topic check needs no second pass.
 */
export function scanUtf8(data: Uint8Array, start: number, end: number): number {
  let flags = 0;
  let i = start;
  while (i < end) {
    // ASCII other than NUL, '+' and '#' is the common case: one table load a byte
    const b = data[i++];
    const k = BYTE_CLASS[b];
    if (k === 0) continue;
    if (k === 1) return UTF8_MALFORMED;
    if (k === 2) {
      flags = UTF8_WILDCARD;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f; // U+D800..U+DFFF are surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return UTF8_MALFORMED;
    if (i + need > end) return UTF8_MALFORMED;
    const c = data[i++];
    if (c < lo || c > hi) return UTF8_MALFORMED;
    while (--need > 0) {
      const d = data[i++];
      if (d < 0x80 || d > 0xbf) return UTF8_MALFORMED;
    }
  }
  return flags;
}

/** Byte classes for {@link scanUtf8}: 0 plain ASCII, 1 NUL, 2 wildcard, 3 start of a multi-byte sequence (or invalid). */
const BYTE_CLASS = new Uint8Array(256);
BYTE_CLASS[0] = 1;
BYTE_CLASS[0x2b] = 2;
BYTE_CLASS[0x23] = 2;
BYTE_CLASS.fill(3, 0x80);

/**
 * Makes a string of the UTF-8 in `data[start, end)`. Allocates: call it only when the
 * application asks for a string. Malformed sequences become U+FFFD.
 */
export function decodeUtf8(data: Uint8Array, start: number, end: number): string {
  let s = "";
  let i = start;
  while (i < end) {
    const b = data[i++];
    let c: number;
    if (b < 0x80) c = b;
    else if (b >= 0xc2 && b <= 0xdf && i < end) c = ((b & 0x1f) << 6) | (data[i++] & 0x3f);
    else if (b >= 0xe0 && b <= 0xef && i + 1 < end) {
      c = ((b & 0x0f) << 12) | ((data[i] & 0x3f) << 6) | (data[i + 1] & 0x3f);
      i += 2;
    } else if (b >= 0xf0 && b <= 0xf4 && i + 2 < end) {
      c = ((b & 0x07) << 18) | ((data[i] & 0x3f) << 12) | ((data[i + 1] & 0x3f) << 6) | (data[i + 2] & 0x3f);
      i += 3;
    } else c = 0xfffd;
    if (c > 0xffff) {
      c -= 0x10000;
      s += String.fromCharCode(0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
    } else s += String.fromCharCode(c);
  }
  return s;
}

/** True when `data[start, start+length)` holds exactly the UTF-8 of `s`. Allocates nothing. */
export function utf8Equals(data: Uint8Array, start: number, length: number, s: string): boolean {
  const end = start + length;
  let i = start;
  for (let k = 0; ; k++) {
    let c = charCodeAt.call(s, k);
    if (c !== c) return i === end;
    if (c < 0x80) {
      if (i >= end || data[i++] !== c) return false;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = charCodeAt.call(s, k + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        k++;
      }
    }
    const n = c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (i + n > end) return false;
    if (n === 2) {
      if (data[i] !== (0xc0 | (c >> 6)) || data[i + 1] !== (0x80 | (c & 0x3f))) return false;
    } else if (n === 3) {
      if (data[i] !== (0xe0 | (c >> 12)) || data[i + 1] !== (0x80 | ((c >> 6) & 0x3f)) || data[i + 2] !== (0x80 | (c & 0x3f))) return false;
    } else if (
      data[i] !== (0xf0 | (c >> 18)) ||
      data[i + 1] !== (0x80 | ((c >> 12) & 0x3f)) ||
      data[i + 2] !== (0x80 | ((c >> 6) & 0x3f)) ||
      data[i + 3] !== (0x80 | (c & 0x3f))
    )
      return false;
    i += n;
  }
}
