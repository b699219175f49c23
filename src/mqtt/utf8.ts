/**
 * UTF-8 for MQTT strings (MQTT 3.1.1 §1.5.3) with ECMAScript built-ins only:
 * XS on a microcontroller has no built-in UTF-8 encoder, so these walk the string themselves and
 * never allocate except in {@link decodeUtf8}, which exists to make a string.
 *
 * Two facts about XS, measured with the xsnap meter, shape the walkers:
 * - reading a property of a primitive string (`s.length`, `s.charCodeAt`) boxes it in a
 *   new String object, two heap slots a read; calling the built-in through
 *   `charCodeAt.call` does not, and past the end it returns NaN, so no `length` is needed;
 * - XS keeps strings as UTF-8, so `charCodeAt(i)` walks from the start: a loop over a
 *   long string is quadratic. Strings are walked by index for their first
 *   {@link SHORT} code units (no allocation) and by the string iterator beyond that
 *   (linear, about ten slots a walk).
 */

const charCodeAt = String.prototype.charCodeAt;
const codePointAt = String.prototype.codePointAt;

/** Code units walked by index before switching to the iterator. */
const SHORT = 256;

/** {@link utf8Length} result: a lone surrogate (no UTF-8 form) or U+0000 (forbidden, §1.5.3). */
export const UTF8_UNSENDABLE = -1;
/** {@link utf8Length} result when asked to refuse wildcards and `+` or `#` is present. */
export const UTF8_HAS_WILDCARD = -2;

/** UTF-8 bytes of code point `c`, or UTF8_UNSENDABLE for NUL and lone surrogates. */
function width(c: number, noWildcards: boolean): number {
  if (c < 0x80) {
    if (c === 0) return UTF8_UNSENDABLE;
    return noWildcards && (c === 0x2b || c === 0x23) ? UTF8_HAS_WILDCARD : 1;
  }
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdfff) return UTF8_UNSENDABLE;
  return c < 0x10000 ? 3 : 4;
}

function put(buf: Uint8Array, o: number, c: number): number {
  if (c < 0x80) buf[o++] = c;
  else if (c < 0x800) {
    buf[o++] = 0xc0 | (c >> 6);
    buf[o++] = 0x80 | (c & 0x3f);
  } else if (c < 0x10000) {
    buf[o++] = 0xe0 | (c >> 12);
    buf[o++] = 0x80 | ((c >> 6) & 0x3f);
    buf[o++] = 0x80 | (c & 0x3f);
  } else {
    buf[o++] = 0xf0 | (c >> 18);
    buf[o++] = 0x80 | ((c >> 12) & 0x3f);
    buf[o++] = 0x80 | ((c >> 6) & 0x3f);
    buf[o++] = 0x80 | (c & 0x3f);
  }
  return o;
}

/**
 * Calls `visit(codePoint)` for each code point of `s` in order until it returns false.
 * Lone surrogates come through as themselves. `visit` is a module-level function, not a
 * closure, so a walk allocates nothing.
 */
function walk(s: string, visit: (c: number) => boolean): void {
  let i = 0;
  for (; i < SHORT; i++) {
    let c = charCodeAt.call(s, i);
    if (c !== c) return; // NaN: past the end
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = charCodeAt.call(s, i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (!visit(c)) return;
  }
  // long: the iterator is linear in XS; skip what was already visited
  let unit = 0;
  for (const ch of s) {
    const c = codePointAt.call(ch, 0) as number;
    if (unit >= i && !visit(c)) return;
    unit += c > 0xffff ? 2 : 1;
  }
}

let total = 0;
let wildcardsRefused = false;
const countWidth = (c: number): boolean => {
  const w = width(c, wildcardsRefused);
  if (w < 0) {
    total = w;
    return false;
  }
  total += w;
  return true;
};

/**
 * Bytes `s` takes as MQTT UTF-8, or {@link UTF8_UNSENDABLE}; with `noWildcards`, also
 * {@link UTF8_HAS_WILDCARD} if it contains `+` or `#` (a topic name check in the same pass).
 */
export function utf8Length(s: string, noWildcards = false): number {
  total = 0;
  wildcardsRefused = noWildcards;
  walk(s, countWidth);
  return total;
}

let out: Uint8Array = new Uint8Array(0);
let at = 0;
const putOne = (c: number): boolean => {
  at = put(out, at, c);
  return true;
};

/**
 * Writes `s` as UTF-8 at `offset` and returns the offset after it. The caller has
 * checked `s` with {@link utf8Length} and made room; nothing is checked here.
 */
export function writeUtf8(buf: Uint8Array, offset: number, s: string): number {
  out = buf;
  at = offset;
  walk(s, putOne);
  out = EMPTY;
  return at;
}

const EMPTY = new Uint8Array(0);

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
  for (;;) {
    // ASCII other than NUL, '+' and '#' is the common case: four bytes a turn, then one
    // (measured in XS: 28 bytes cost 498 compute this way, 694 one at a time)
    while (i + 4 <= end && (BYTE_CLASS[data[i]] | BYTE_CLASS[data[i + 1]] | BYTE_CLASS[data[i + 2]] | BYTE_CLASS[data[i + 3]]) === 0) i += 4;
    while (i < end && BYTE_CLASS[data[i]] === 0) i++;
    if (i >= end) return flags;
    const b = data[i++];
    const k = BYTE_CLASS[b];
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
}

/** Byte classes for {@link scanUtf8}: 0 plain ASCII, 1 NUL, 2 wildcard, 3 start of a multi-byte sequence (or invalid). */
const BYTE_CLASS = new Uint8Array(256);
BYTE_CLASS[0] = 1;
BYTE_CLASS[0x2b] = 2;
BYTE_CLASS[0x23] = 2;
BYTE_CLASS.fill(3, 0x80);

/**
 * Makes a string of the UTF-8 in `data[start, end)`. Allocates: call it only when the
 * application asks for a string. Meant for bytes the decoder has validated: other input
 * never throws, but continuation bytes are not checked, so it may give wrong characters.
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

let cmpData: Uint8Array = EMPTY;
let cmpAt = 0;
let cmpEnd = 0;
let cmpOk = true;
const compareOne = (c: number): boolean => {
  const w = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  if (cmpAt + w > cmpEnd) return (cmpOk = false);
  const d = cmpData;
  const i = cmpAt;
  if (w === 1) cmpOk = d[i] === c;
  else if (w === 2) cmpOk = d[i] === (0xc0 | (c >> 6)) && d[i + 1] === (0x80 | (c & 0x3f));
  else if (w === 3) cmpOk = d[i] === (0xe0 | (c >> 12)) && d[i + 1] === (0x80 | ((c >> 6) & 0x3f)) && d[i + 2] === (0x80 | (c & 0x3f));
  else
    cmpOk =
      d[i] === (0xf0 | (c >> 18)) && d[i + 1] === (0x80 | ((c >> 12) & 0x3f)) && d[i + 2] === (0x80 | ((c >> 6) & 0x3f)) && d[i + 3] === (0x80 | (c & 0x3f));
  cmpAt += w;
  return cmpOk;
};

/** True when `data[start, start+length)` holds exactly the UTF-8 of `s`. Allocates nothing for short strings. */
export function utf8Equals(data: Uint8Array, start: number, length: number, s: string): boolean {
  cmpData = data;
  cmpAt = start;
  cmpEnd = start + length;
  cmpOk = true;
  walk(s, compareOne);
  cmpData = EMPTY;
  return cmpOk && cmpAt === cmpEnd;
}
