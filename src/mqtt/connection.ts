/**
 * The connection's lifecycle: its states, the backoff between attempts, and the walk
 * through the list of brokers. Pure: the client feeds it events and asks it for numbers.
 *
 * ```
 * Idle ──connect()/backoff over──▶ Opening ──transport open──▶ Connack ──CONNACK 0──▶ Connected
 *   ▲                                 │                          │                      │
 *   └──── retry after backoffDelay ◀──┴── failed / timed out ◀───┴──── lost ◀───────────┘
 * any state ──close()──▶ Closed (final)
 * ```
 */
import type { BrokerAddress } from "./platform.js";

/** Connection states, in the order a connection goes through them. */
export const ConnState = Object.freeze({
  /** Not connected; a reconnect may be scheduled. */
  Idle: 0,
  /** The transport is opening. */
  Opening: 1,
  /** CONNECT sent, waiting for CONNACK. */
  Connack: 2,
  Connected: 3,
  /** Closed by the application; final. */
  Closed: 4,
} as const);
export type ConnState = (typeof ConnState)[keyof typeof ConnState];

/**
 * The wait before reconnect attempt number `attempt` (0 for the first after a success):
 * `min · 2^attempt`, capped at `max`, less a random share of up to `jitter` of it, so
 * clients cut off together do not return together. `random` is in [0, 1).
 */
export function backoffDelay(attempt: number, min: number, max: number, jitter: number, random: number): number {
  const base = Math.min(max, min * 2 ** Math.min(attempt, 20));
  return Math.max(0, Math.round(base * (1 - jitter * random)));
}

/** The brokers and the attempts made on them since the last success. */
export class Brokers {
  private readonly list: readonly BrokerAddress[];
  private index = 0;
  /** Failed attempts (and lost connections) since the last accepted CONNACK. */
  attempt = 0;

  constructor(list: readonly BrokerAddress[]) {
    this.list = list;
  }

  /** The broker in use or being tried. */
  get current(): BrokerAddress {
    return this.list[this.index];
  }

  /** An attempt on the current broker failed: the next attempt goes to the next one. */
  failed(): void {
    this.index = (this.index + 1) % this.list.length;
  }

  /** CONNACK accepted: backoff starts over. */
  connected(): void {
    this.attempt = 0;
  }
}
