/**
 * Message kinds of the xsnap bridge: the first byte of every message between the Node
 * host (host-test/xs/bridge.ts) and code running inside the xsnap worker.
 */

/** Node → XS, through `handleCommand`. */
export const ToXs = {
  /** JSON `{op, args}` for the code loaded in XS; answered with JSON. */
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
  /** [JSON]: an event for the host (test logs, the CLI). */
  Event: 0x16,
} as const;
