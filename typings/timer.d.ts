/**
 * `timer`: callbacks after a delay, from the event loop.
 */
declare module "timer" {
  const timerBrand: unique symbol;
  /** A scheduled timer. A one-shot timer (no repeat) is gone once it has fired. */
  export interface TimerID {
    readonly [timerBrand]: true;
  }

  export type TimerCallback = (id: TimerID) => void;

  export interface TimerStatic {
    /** Calls `callback` once after `interval` ms, or every `repeat` ms after that if `repeat` is non-zero. */
    set(callback: TimerCallback, interval?: number, repeat?: number): TimerID;
    /** Calls `callback` every `interval` ms. */
    repeat(callback: TimerCallback, interval: number): TimerID;
    /** With only `id`: stops the timer without releasing it. Otherwise fires after `interval`, then every `repeat` ms (0: once, after which it is released). */
    schedule(id: TimerID, interval?: number, repeat?: number): void;
    /** Stops and releases the timer; ignores anything that is not a live timer. */
    clear(id: TimerID | undefined | null): void;
    /** Blocks for `ms` milliseconds. */
    delay(ms: number): void;
  }

  const Timer: TimerStatic;
  export default Timer;
}
