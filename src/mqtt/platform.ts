/**
 * The client's only contact with the world. Each platform (Node, Moddable on ESP32, the
 * xsnap bridge in the host tests) implements these; the client names no platform module.
 */

/** Where a broker is. The client passes it to the transport untouched. */
export interface BrokerAddress {
  host: string;
  port: number;
  /** Use TLS. The transport reads whatever other fields it needs (CA, certificates). */
  tls?: boolean;
  [option: string]: unknown;
}

/**
 * What a transport reports. Calls arrive from the platform's event loop, never from inside
 * a `Transport` method call.
 */
export interface TransportSink {
  /** The byte stream is open; writing may begin. */
  onConnect(): void;
  /**
   * Bytes arrived: `data[start, end)`. The bytes belong to the transport again when the
   * call returns, so the client parses or copies them before returning.
   */
  onData(data: Uint8Array, start: number, end: number): void;
  /** A write that accepted fewer bytes than offered may now be retried. */
  onWritable(): void;
  /**
   * The stream ended: closed by the peer, failed to open, or broke. `reason` says why
   * (null for an orderly close by the peer). Never called after `close()`.
   */
  onClose(reason: string | null): void;
}

/**
 * A byte stream to one broker, opened by {@link TransportFactory}. One object per
 * connection attempt.
 */
export interface Transport {
  /**
   * Offers `data[start, end)`. Returns how many bytes were taken (copied or sent),
   * from 0 to `end - start`. Fewer than offered means backpressure: the client offers
   * the rest after `onWritable`. Never throws for a closed stream; returns 0.
   */
  write(data: Uint8Array, start: number, end: number): number;
  /**
   * Offers one whole packet in two pieces, all of `head` followed by all of `body`: takes
   * all of it (copied or sent, as one write where the platform can) and returns true, or
   * takes none of it and returns false (backpressure, a closed stream, a packet larger
   * than the platform writes at once). After false the client queues the packet and
   * offers it later through `write`. Never throws.
   */
  writePacket(head: Uint8Array, body: Uint8Array): boolean;
  /** Closes the stream at once; no sink call follows. */
  close(): void;
}

/** Opens a transport to `broker`; events go to `sink`. Must not call the sink synchronously. */
export type TransportFactory = (broker: BrokerAddress, sink: TransportSink) => Transport;

/**
 * One timer. The client arms a single deadline at a time (keepalive, PINGRESP, CONNACK,
 * reconnect backoff) and recomputes the next one when it fires.
 */
export interface Timer {
  /** Calls the callback given at creation after `ms` milliseconds, replacing any earlier setting. */
  set(ms: number): void;
  clear(): void;
}

/** What the client needs from a platform. */
export interface Platform {
  connect: TransportFactory;
  /** Makes the client's timer; `callback` runs from the event loop. */
  timer(callback: () => void): Timer;
  /**
   * Milliseconds from a monotonic clock, as an unsigned 32-bit value that may wrap
   * (Moddable's `Time.ticks` does after 49.7 days): the client only ever subtracts.
   */
  now(): number;
  /** A number in [0, 1) for backoff jitter; Math.random when absent. */
  random?(): number;
}
