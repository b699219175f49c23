/**
 * Message kinds of the xsnap bridge: the first byte of every message between the Node
 * host (tools/runtime/xs/bridge.ts) and code running inside the xsnap worker. Bulk data
 * (payloads) always travels as bytes after a length-prefixed JSON head: XS keeps strings
 * as UTF-8, so decoding a long string by index there costs time in proportion to its
 * square.
 */

/** Node → XS, through `handleCommand`. */
export const ToXs = {
  /**
   * [JSON length u32][JSON `{op, args}`][bytes…]: an op call whose last argument is the
   * bytes; answered with JSON. (A plain op call is the JSON alone, starting with `{`.)
   */
  Op: 1,
  /** [conn u16]: the transport opened. */
  Connected: 2,
  /** [conn u16][bytes…]: bytes arrived. */
  Data: 3,
  /** [conn u16]: writing may resume. */
  Writable: 4,
  /** [conn u16][reason UTF-8, empty for none]: the transport closed. */
  Closed: 5,
  /** [timer u16]: a timer fired. */
  Timer: 6,
} as const;

/** XS → Node, through `issueCommand`. */
export const FromXs = {
  /** [conn u16][broker JSON]: open a transport. */
  Connect: 0x11,
  /** [conn u16][bytes…]: write; the answer is [accepted u32]. */
  Write: 0x12,
  /** [conn u16]: close. */
  Close: 0x13,
  /** [timer u16][ms u32]: arm a timer. */
  TimerSet: 0x14,
  /** [timer u16]: disarm a timer. */
  TimerClear: 0x15,
  /** [0 u16][JSON length u32][JSON][bytes…]: an event for the host (test logs, the CLI), with the bytes it carries (a payload), if any. */
  Event: 0x16,
  /**
   * [file u16][FileOp u8][arguments…]: the board's flash files, which the host keeps in a
   * folder; the answer is [status u8: 0 done, 1 failed][result…, or the failure's UTF-8].
   */
  File: 0x17,
} as const;

/** What a {@link FromXs.File} message asks, and its arguments and result. */
export const FileOp = {
  /** [create u8][name UTF-8] → [file u16], 0 when the file is missing and not created. File id 0. */
  Open: 1,
  /** → [size u32] */
  Size: 2,
  /** [position u32][count u32] → [bytes read…] */
  Read: 3,
  /** [position u32][bytes…] → nothing */
  Write: 4,
  /** [length u32] → nothing */
  Truncate: 5,
  /** → nothing */
  Sync: 6,
  /** → nothing */
  Close: 7,
  /** [name UTF-8] → nothing. File id 0. */
  Remove: 8,
  /** [from length u8][from UTF-8][to UTF-8] → nothing. File id 0. */
  Rename: 9,
} as const;
