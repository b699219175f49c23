/// <reference path="../../../typings/index.d.ts" />
/**
 * Wi-Fi station on Moddable's `wifi` module: joins, waits for an IP address, and rejoins
 * with exponential backoff whenever the link drops or an attempt fails. Credentials are
 * read afresh for every attempt, so settings provisioned over the console take effect at
 * the next attempt without a restart.
 */
import Net from "net";
import WiFi from "wifi";
import type { Network, NetworkStatus } from "../../app/board.js";
import type { Platform, Timer } from "../../mqtt/platform.js";

export interface WiFiCredentials {
  ssid: string;
  password?: string;
}

export interface WiFiNetworkOptions {
  /** The network to join now, or null when none is configured. */
  credentials(): WiFiCredentials | null;
  /** First and longest wait between attempts, ms (defaults 1 s and 60 s). */
  backoff?: { min: number; max: number };
  /** An attempt that has no IP address after this long (ms, default 30 s) is abandoned. */
  attemptTimeout?: number;
}

const IDLE = 0; // not started
const WAITING = 1; // backing off before the next attempt
const JOINING = 2; // attempt under way, watchdog armed
const UP = 3; // IP address assigned

/** Wait after a credentials change, so that the SSID and the password both arrive first. */
const CHANGE_DELAY = 1500;

/**
 * The board's Network on the ESP32 (and on the simulator's Wi-Fi stand-in). Status goes to
 * the listener on every change: "connecting" with the SSID, "connected" with the IP
 * address, "disconnected" with the reason.
 */
export class WiFiNetwork implements Network {
  private state = IDLE;
  private wifi: WiFi | undefined;
  private onStatus: (status: NetworkStatus, detail: string) => void = () => {};
  private readonly timer: Timer;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private readonly attemptTimeout: number;
  private backoff: number;
  private lastStatus: NetworkStatus | "" = "";
  private lastDetail = "";

  constructor(
    platform: Platform,
    private readonly options: WiFiNetworkOptions,
  ) {
    this.timer = platform.timer(() => this.onTimer());
    this.minBackoff = options.backoff?.min ?? 1000;
    this.maxBackoff = options.backoff?.max ?? 60000;
    this.attemptTimeout = options.attemptTimeout ?? 30000;
    this.backoff = this.minBackoff;
  }

  get connected(): boolean {
    return this.state === UP;
  }

  start(onStatus: (status: NetworkStatus, detail: string) => void): void {
    this.onStatus = onStatus;
    if (this.state === IDLE) this.attempt();
  }

  /**
   * The credentials changed (provisioning): when not connected, tries again in a moment
   * instead of at the end of the current backoff. A connected station keeps its network
   * until the link drops or the device restarts.
   */
  credentialsChanged(): void {
    if (this.state !== WAITING) return;
    this.backoff = this.minBackoff;
    this.timer.set(CHANGE_DELAY);
  }

  private report(status: NetworkStatus, detail: string): void {
    if (status === this.lastStatus && detail === this.lastDetail) return;
    this.lastStatus = status;
    this.lastDetail = detail;
    this.onStatus(status, detail);
  }

  private attempt(): void {
    const credentials = this.options.credentials();
    if (!credentials || credentials.ssid === "") {
      this.report("disconnected", "no Wi-Fi network configured (build with ssid=..., or `set ssid ...` on the console)");
      return this.retry(this.maxBackoff);
    }
    this.state = JOINING;
    this.report("connecting", credentials.ssid);
    const options = credentials.password ? { ssid: credentials.ssid, password: credentials.password } : { ssid: credentials.ssid };
    try {
      this.wifi ??= new WiFi(undefined, (message, reason) => this.onWiFi(message, reason));
      WiFi.connect(options);
    } catch (e) {
      this.report("disconnected", `Wi-Fi driver refused: ${(e as Error).message}`);
      return this.retry(this.next());
    }
    this.timer.set(this.attemptTimeout);
  }

  private onWiFi(message: string, reason?: number): void {
    switch (message) {
      case WiFi.gotIP: {
        this.state = UP;
        this.backoff = this.minBackoff;
        this.timer.clear();
        const ip = Net.get("IP");
        this.report("connected", typeof ip === "string" ? ip : "");
        return;
      }
      case WiFi.lostIP:
        if (this.state !== UP) return;
        this.state = JOINING; // usually followed by gotIP or disconnect; the watchdog covers neither
        this.report("disconnected", "lost IP address");
        this.timer.set(this.attemptTimeout);
        return;
      case WiFi.disconnected: {
        if (this.state === WAITING || this.state === IDLE) return; // our own disconnect, or a duplicate
        const wasUp = this.state === UP;
        this.report("disconnected", reason === -1 ? "password rejected" : wasUp ? "link lost" : "could not join");
        // first retry after a link loss is quick; failed joins back off
        return this.retry(wasUp ? this.minBackoff : this.next());
      }
    }
  }

  private onTimer(): void {
    if (this.state === WAITING) return this.attempt();
    if (this.state === JOINING) {
      this.report("disconnected", `no IP address after ${Math.round(this.attemptTimeout / 1000)} s`);
      this.retry(this.next());
      try {
        WiFi.disconnect();
      } catch {
        // not connected
      }
    }
  }

  private retry(ms: number): void {
    this.state = WAITING;
    this.timer.set(ms);
  }

  /** The current backoff, doubling the next one up to the maximum. */
  private next(): number {
    const b = this.backoff;
    this.backoff = Math.min(this.maxBackoff, b * 2);
    return b;
  }
}
