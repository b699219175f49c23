/**
 * The one rule both deep-sleep modules (the ESP32's and the simulator's) apply to a
 * sleep's length, so that a bad duration fails the same way in the simulator as on a
 * device. Pure ECMAScript: the host tests run it on Node.
 */

/**
 * Longest sleep, ms: 2^53 - 1 µs, the largest whole number of microseconds a double holds
 * exactly (about 285 years, far inside ESP-IDF's `uint64_t`; the RTC timer's own limit is
 * lower and is checked by `esp_sleep_enable_timer_wakeup`).
 */
export const MAX_SLEEP_MS = Math.floor(Number.MAX_SAFE_INTEGER / 1000);

/**
 * The whole number of microseconds to sleep for `ms` (rounded up, so never 0).
 * Throws RangeError unless `ms` is a number greater than 0 and at most {@link MAX_SLEEP_MS}.
 */
export function sleepMicroseconds(ms: number): number {
  if (typeof ms !== "number" || !(ms > 0) || ms > MAX_SLEEP_MS) throw new RangeError(`deep sleep for ${String(ms)} ms: expected more than 0 and at most ${MAX_SLEEP_MS} ms`);
  return Math.ceil(ms * 1000);
}
