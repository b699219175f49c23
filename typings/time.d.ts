/**
 * `time`: the system clock.
 */
declare module "time" {
  export default class Time {
    private constructor();
    /** Sets the real-time clock, in seconds since 1970 (what SNTP reports). */
    static set(seconds: number): void;
    /** Milliseconds from a monotonic counter; wraps around 2^32 (about 49.7 days). */
    static readonly ticks: number;
  }
}
