/**
 * The client's deadlines: reconnect backoff, CONNACK, keepalive and PINGRESP, on a 32-bit
 * millisecond clock that may wrap (Moddable's `Time.ticks` does after 49.7 days). Pure
 * state: it is told what happened and asked, for a given `now`, what is due and how long
 * until the next deadline. It reads no clock and arms no timer; the client does both from
 * its one entry point, `MqttClient.tick(now)`.
 *
 * Sends and arrivals are counted, not timed, on the client's hot paths: {@link catchUp}
 * turns a changed count into the time of the previous look, and the client looks at
 * least every half keepalive, so the times kept are never later than the truth and a
 * PINGREQ is never late (it may be up to half an interval early).
 */
import { ConnState } from "./connection.js";

/** What {@link Deadlines.due} found due. */
export const Due = Object.freeze({
  Nothing: 0,
  /** The backoff is over: open the next connection. */
  Reconnect: 1,
  /** No CONNACK in time. */
  ConnectTimeout: 2,
  /** Keepalive: send PINGREQ. */
  Ping: 3,
  /** No PINGRESP in time. */
  PingTimeout: 4,
} as const);
export type Due = (typeof Due)[keyof typeof Due];

/** Milliseconds from `then` to `now` on the wrapping clock (0 to 2^32-1). */
export function since(now: number, then: number): number {
  return (now - then) >>> 0;
}

/** Whether `deadline` has come at `now`: true within half the clock's range after it. */
export function reached(now: number, deadline: number): boolean {
  return since(now, deadline) < 0x80000000;
}

/** Milliseconds from `now` until `deadline`, 0 once it has come. */
export function until(now: number, deadline: number): number {
  const d = (deadline - now) >>> 0;
  return d >= 0x80000000 ? 0 : d;
}

export class Deadlines {
  /** Set per connection when an MQTT 5 broker imposes its Server Keep Alive ({@link keepalive}). */
  keepaliveMs: number;
  pingTimeoutMs: number;
  readonly connectTimeoutMs: number;
  private reconnectAt = 0;
  /** A reconnect is scheduled at `reconnectAt`. */
  reconnecting = false;
  private connackBy = 0;
  private lastSent = 0;
  private lastReceived = 0;
  private sentSeen = 0;
  private receivedSeen = 0;
  private seenAt = 0;
  /** A PINGREQ went out and its PINGRESP has not come. */
  pinging = false;
  private pingSentAt = 0;

  constructor(keepaliveMs: number, pingTimeoutMs: number, connectTimeoutMs: number) {
    this.keepaliveMs = keepaliveMs;
    this.pingTimeoutMs = pingTimeoutMs;
    this.connectTimeoutMs = connectTimeoutMs;
  }

  /** The keepalive of this connection (an MQTT 5 broker's Server Keep Alive, §3.2.2.3.14), and its PINGRESP wait. */
  keepalive(keepaliveMs: number, pingTimeoutMs: number): void {
    this.keepaliveMs = keepaliveMs;
    this.pingTimeoutMs = pingTimeoutMs;
  }

  /** A connection attempt starts: CONNACK is due `connectTimeoutMs` from now. */
  opening(now: number): void {
    this.reconnecting = false;
    this.pinging = false;
    this.connackBy = (now + this.connectTimeoutMs) >>> 0;
  }

  /** CONNACK accepted: keepalive counts from now. `sent`/`received` are the client's counts. */
  connected(now: number, sent: number, received: number): void {
    this.lastSent = this.lastReceived = this.seenAt = now;
    this.sentSeen = sent;
    this.receivedSeen = received;
  }

  /** Reconnect `delay` ms from now. */
  retry(now: number, delay: number): void {
    this.reconnectAt = (now + delay) >>> 0;
    this.reconnecting = true;
    this.pinging = false;
  }

  /** A PINGREQ was queued at `now`. */
  pinged(now: number): void {
    this.pinging = true;
    this.pingSentAt = now;
  }

  /** PINGRESP: the next PINGREQ is due one interval after it. */
  ponged(now: number): void {
    this.pinging = false;
    this.lastSent = now;
  }

  /** Turns sends and arrivals counted since the last look into times: that look's. */
  catchUp(now: number, sent: number, received: number): void {
    const at = this.seenAt;
    if (sent !== this.sentSeen) {
      this.sentSeen = sent;
      if (reached(at, this.lastSent)) this.lastSent = at;
    }
    if (received !== this.receivedSeen) {
      this.receivedSeen = received;
      if (reached(at, this.lastReceived)) this.lastReceived = at;
    }
    this.seenAt = now;
  }

  /** What is due at `now` in connection state `state` (connected: call {@link catchUp} first). */
  due(state: number, now: number): Due {
    switch (state) {
      case ConnState.Idle:
        return this.reconnecting && reached(now, this.reconnectAt) ? Due.Reconnect : Due.Nothing;
      case ConnState.Opening:
      case ConnState.Connack:
        return reached(now, this.connackBy) ? Due.ConnectTimeout : Due.Nothing;
      case ConnState.Connected:
        if (this.pinging) return since(now, this.pingSentAt) >= this.pingTimeoutMs ? Due.PingTimeout : Due.Nothing;
        if (this.keepaliveMs > 0 && (since(now, this.lastSent) >= this.keepaliveMs || since(now, this.lastReceived) >= this.keepaliveMs)) return Due.Ping;
        return Due.Nothing;
    }
    return Due.Nothing;
  }

  /** Milliseconds from `now` to the next deadline of state `state`, or -1 for none. */
  wait(state: number, now: number): number {
    switch (state) {
      case ConnState.Idle:
        return this.reconnecting ? until(now, this.reconnectAt) : -1;
      case ConnState.Opening:
      case ConnState.Connack:
        return until(now, this.connackBy);
      case ConnState.Connected: {
        if (this.pinging) return Math.max(0, this.pingTimeoutMs - since(now, this.pingSentAt));
        const k = this.keepaliveMs;
        if (k <= 0) return -1;
        const wait = Math.max(0, k - Math.max(since(now, this.lastSent), since(now, this.lastReceived)));
        // activity is counted, not timed: look at least every half interval
        return wait > k / 2 ? k / 2 : wait;
      }
    }
    return -1;
  }
}
