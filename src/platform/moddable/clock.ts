/// <reference path="../../../typings/index.d.ts" />
/**
 * Wall clock set by SNTP (Moddable's `sntp` module). The ESP32 boots in 1970; once a
 * server answers, `Time.set` sets the system clock and `Date.now()` is real time. Servers
 * are tried in turn; when all fail the next round waits, longer each time, and `kick()`
 * (called when the network comes up) starts one at once.
 */
import SNTP from "sntp";
import Time from "time";
import type { WallClock } from "../../app/board.js";
import type { Platform, Timer } from "../../mqtt/platform.js";

/** Any time before this (2024-01-01) means the clock was never set (TLS waits for a later one: certificate dates). */
export const PLAUSIBLE_TIME = 1704067200000;

export interface SntpClockOptions {
  /** SNTP servers in order of preference; none means trust the system clock when plausible. */
  hosts: string[];
  /** Wait after a failed round, ms: first and longest (defaults 10 s and 10 min). */
  retry?: { min: number; max: number };
  /** Resynchronize this often, ms (default 12 h). */
  resync?: number;
}

/** The board's WallClock: `now()` is -1 until a server has answered (or the clock was already set). */
export class SntpClock implements WallClock {
  private synced = false;
  private request: SNTP | undefined;
  private onSync: (() => void) | undefined;
  private readonly timer: Timer;
  private readonly hosts: string[];
  private readonly minRetry: number;
  private readonly maxRetry: number;
  private readonly resync: number;
  private wait: number;

  constructor(platform: Platform, options: SntpClockOptions) {
    this.hosts = options.hosts;
    this.minRetry = options.retry?.min ?? 10000;
    this.maxRetry = options.retry?.max ?? 600000;
    this.resync = options.resync ?? 12 * 3600000;
    this.wait = this.minRetry;
    this.timer = platform.timer(() => this.ask());
  }

  get synchronized(): boolean {
    return this.synced;
  }

  now(): number {
    return this.synced ? Date.now() : -1;
  }

  start(onSync: () => void): void {
    if (this.onSync) return;
    this.onSync = onSync;
    // already set: the simulator's system clock, or a soft restart that kept the RTC
    if (Date.now() >= PLAUSIBLE_TIME) this.done();
    if (this.hosts.length === 0) return;
    if (this.synced) this.timer.set(this.resync);
    else this.ask();
  }

  /** Tries now if not synchronized yet: the network just came up. */
  kick(): void {
    if (this.onSync && !this.synced && !this.request) {
      this.wait = this.minRetry;
      this.ask();
    }
  }

  private done(): void {
    const first = !this.synced;
    this.synced = true;
    if (first) this.onSync?.();
  }

  /** One round: the first host, then each next one after an error. */
  private ask(): void {
    if (this.request || this.hosts.length === 0) return; // no servers: only the system clock, nothing to ask
    let index = 0;
    try {
      this.request = new SNTP({ host: this.hosts[0] }, (message, value) => {
        if (message === SNTP.time && typeof value === "number") {
          this.request = undefined;
          Time.set(value);
          this.wait = this.minRetry;
          this.timer.set(this.resync);
          this.done();
        } else if (message === SNTP.error) {
          if (++index < this.hosts.length) return this.hosts[index];
          this.request = undefined; // it closes itself when we return nothing
          this.failed();
        }
      });
    } catch {
      this.request = undefined;
      this.failed();
    }
  }

  private failed(): void {
    this.timer.set(this.synced ? this.resync : this.wait);
    if (!this.synced) this.wait = Math.min(this.maxRetry, this.wait * 2);
  }
}
