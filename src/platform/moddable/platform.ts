/// <reference path="../../../typings/index.d.ts" />
/**
 * The client's platform on Moddable: ECMA-419 TCP sockets (`embedded:io/socket/tcp`), TLS
 * over them for `mqtts://` (tls.ts), the `timer` module and `Time.ticks`. Runs on the ESP32 and in the desktop simulator.
 *
 * Memory: one receive buffer and one send staging buffer, allocated here, serve every
 * connection. The socket reads and writes whole buffers, so a transfer of n bytes needs a
 * view exactly n long; views are kept in a small cache indexed by length, so a connection
 * that keeps sending and receiving packets of the same few sizes allocates nothing.
 */
import TCP from "embedded:io/socket/tcp";
import Net from "net";
import Time from "time";
import ModdableTimer, { type TimerID } from "timer";
import type { BrokerAddress, Platform, Timer, Transport, TransportSink } from "../../mqtt/platform.js";
import { PLAUSIBLE_TIME } from "./clock.js";
import { TlsConnection, type TlsOptions } from "./tls.js";

export interface ModdablePlatformOptions {
  /** Bytes read from the socket per `onData` call (default 512). */
  receiveBytes?: number;
  /** Bytes copied to the socket per socket write (default 512). */
  stagingBytes?: number;
  /** Views kept per buffer, a power of two (default 16). */
  viewCache?: number;
  /** `mqtts://` brokers: verification (on by default) and where the handshake is reported. */
  tls?: TlsOptions;
}

/** Subarray views of one buffer, each starting at 0, cached by length (direct-mapped). */
export class ViewCache {
  private readonly views: (Uint8Array | undefined)[];
  private readonly mask: number;

  constructor(
    readonly bytes: Uint8Array,
    slots: number,
  ) {
    let n = 1;
    while (n < slots) n <<= 1;
    this.mask = n - 1;
    this.views = new Array<Uint8Array | undefined>(n).fill(undefined);
    this.views[bytes.length & this.mask] = bytes;
  }

  /** `bytes[0, length)`: from the cache, or made once and cached. */
  get(length: number): Uint8Array {
    const i = length & this.mask;
    let v = this.views[i];
    if (v === undefined || v.length !== length) {
      v = this.bytes.subarray(0, length);
      this.views[i] = v;
    }
    return v;
  }
}

/** True when `host` is a dotted IPv4 address, which the socket takes without resolution. */
export function isIPv4(host: string): boolean {
  let parts = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0) return false;
      parts++;
      digits = value = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return false;
    } else return false;
  }
  return parts === 3 && digits > 0;
}

/** Runs `f` from the event loop (the transport contract forbids calling the sink synchronously). */
function later(f: () => void): void {
  ModdableTimer.set(() => f(), 0);
}

/**
 * Resolves `host` to an IPv4 address: literal addresses and "localhost" directly (the
 * simulator's resolver returns ::1 first for localhost, which the socket cannot use),
 * anything else through `Net.resolve`.
 */
export function resolveHost(host: string, callback: (address: string | undefined) => void): void {
  if (host === "localhost") return later(() => callback("127.0.0.1"));
  if (isIPv4(host)) return later(() => callback(host));
  try {
    Net.resolve(host, (_name, address) => callback(address && isIPv4(address) ? address : undefined));
  } catch {
    later(() => callback(undefined));
  }
}

const OPENING = 0;
const OPEN = 1;
const CLOSED = 2;

/** Buffers shared by every transport of one platform. */
interface Shared {
  rx: ViewCache;
  tx: ViewCache;
  tls: TlsOptions;
}

/**
 * Bytes kept back from what the TLS socket says it can take: it estimates its record
 * overhead at 32 bytes after a write, and a record it cannot send whole would throw
 * "would block" after its sequence number moved on, breaking the connection.
 */
const TLS_MARGIN = 64;

/** One TCP connection to a broker. */
class TcpTransport implements Transport {
  private socket: TCP | TlsConnection | undefined;
  private readonly margin: number;
  private state = OPENING;
  /** Bytes the socket said it can take now. */
  private writable = 0;
  /** A write was cut short: the sink gets `onWritable` when the socket has room again. */
  private blocked = false;

  constructor(
    private readonly shared: Shared,
    broker: BrokerAddress,
    private readonly sink: TransportSink,
  ) {
    this.margin = broker.tls ? TLS_MARGIN : 0;
    // certificate dates are checked: a clock still in 1970 would refuse every certificate
    if (broker.tls && shared.tls.verify !== false && Date.now() < PLAUSIBLE_TIME) {
      this.fail("TLS waits for the clock (certificate dates are checked): SNTP has not answered yet");
      return;
    }
    resolveHost(broker.host, (address) => {
      if (this.state !== OPENING) return;
      if (address === undefined) return this.fail(`cannot resolve ${broker.host}`);
      if (broker.tls) this.openTls(broker.host, address, broker.port);
      else this.open(address, broker.port);
    });
  }

  private openTls(host: string, address: string, port: number): void {
    try {
      this.socket = new TlsConnection(host, address, port, this.shared.tls, {
        onReadable: (count) => this.readable(count),
        onWritable: (count) => this.onWritable(count),
        onError: () => this.onError(),
        onFailure: (reason) => this.closeWith(reason),
      });
    } catch (e) {
      this.fail(`TLS to ${host}:${port} not started: ${(e as Error).message}`);
    }
  }

  private open(address: string, port: number): void {
    try {
      this.socket = new TCP({
        address,
        port,
        nodelay: true,
        onReadable: (count) => this.readable(count),
        onWritable: (count) => this.onWritable(count),
        onError: () => this.onError(),
      });
    } catch (e) {
      this.fail(`cannot open socket to ${address}:${port}: ${(e as Error).message}`);
    }
  }

  private onWritable(count: number): void {
    if (this.state === CLOSED) return;
    this.writable = count;
    if (this.state === OPENING) {
      this.state = OPEN;
      this.sink.onConnect();
    } else if (this.blocked && count > 0) {
      this.blocked = false;
      this.sink.onWritable();
    }
  }

  private readable(count: number): void {
    const rx = this.shared.rx;
    const size = rx.bytes.length;
    while (count > 0 && this.state !== CLOSED) {
      const n = count < size ? count : size;
      const socket = this.socket;
      if (!socket || socket.read(rx.get(n)) === undefined) return;
      count -= n;
      this.sink.onData(rx.bytes, 0, n);
    }
  }

  private onError(): void {
    if (this.state === CLOSED) return;
    // once open, ECMA-419's onError is the peer closing (null: no error to name), as Node's orderly close is
    this.closeWith(this.state === OPEN ? null : "connection refused or unreachable");
  }

  /** Ends the connection from a socket callback and tells the client why (null: the peer closed it). */
  private closeWith(reason: string | null): void {
    if (this.state === CLOSED) return;
    this.shut();
    this.sink.onClose(reason);
  }

  /** Reports a failure to open, from the event loop. */
  private fail(reason: string): void {
    later(() => this.closeWith(reason));
  }

  private shut(): void {
    this.state = CLOSED;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      try {
        socket.close();
      } catch {
        // already gone
      }
    }
  }

  write(data: Uint8Array, start: number, end: number): number {
    const socket = this.socket;
    if (this.state !== OPEN || !socket) return 0;
    const tx = this.shared.tx;
    const staging = tx.bytes;
    const limit = staging.length;
    let at = start;
    while (at < end && this.writable > 0) {
      let n = end - at;
      if (n > this.writable) n = this.writable;
      let chunk: Uint8Array;
      if (at === 0 && n === data.length) chunk = data;
      else {
        if (n > limit) n = limit;
        for (let i = 0; i < n; i++) staging[i] = data[at + i];
        chunk = tx.get(n);
      }
      let left: number | undefined;
      try {
        left = socket.write(chunk);
      } catch {
        // "would block": the count we were given was stale; wait for onWritable
        this.writable = 0;
        break;
      }
      if (left === undefined) break; // the socket failed; onError follows
      this.writable = left - this.margin;
      at += n;
    }
    if (at < end) this.blocked = true;
    return at - start;
  }

  writePacket(head: Uint8Array, body: Uint8Array): boolean {
    const socket = this.socket;
    if (this.state !== OPEN || !socket) return false;
    const tx = this.shared.tx;
    const staging = tx.bytes;
    const n = head.length + body.length;
    // all or nothing: what does not fit now goes through the client's queue and write()
    if (n > this.writable || n > staging.length) return false;
    // whole arrays: copied natively, nothing allocated
    staging.set(head, 0);
    staging.set(body, head.length);
    let left: number | undefined;
    try {
      left = socket.write(tx.get(n));
    } catch {
      this.writable = 0; // the count we were given was stale
      return false;
    }
    if (left === undefined) return false; // the socket failed; onError follows, the packet waits in the queue
    this.writable = left - this.margin;
    return true;
  }

  close(): void {
    if (this.state !== CLOSED) this.shut();
  }
}

/** Longest timer interval: about 12 days, far beyond any client deadline. */
const MAX_INTERVAL = 0x3fffffff;

/**
 * One Moddable timer, created once and rescheduled for every `set`. It is always
 * scheduled with a repeat (equal to its interval) and unscheduled when it fires, because
 * the SDK releases a timer that fires with no repeat, and the simulator's timer misbehaves
 * when a timer is rescheduled from its own callback with an interval different from its
 * repeat.
 */
export class ReusableTimer implements Timer {
  private readonly id: TimerID;

  constructor(private readonly callback: () => void) {
    this.id = ModdableTimer.repeat(() => this.fire(), MAX_INTERVAL);
    ModdableTimer.schedule(this.id);
  }

  set(ms: number): void {
    const v = ms >= 1 ? (ms < MAX_INTERVAL ? Math.ceil(ms) : MAX_INTERVAL) : 1;
    ModdableTimer.schedule(this.id, v, v);
  }

  clear(): void {
    ModdableTimer.schedule(this.id);
  }

  private fire(): void {
    ModdableTimer.schedule(this.id);
    this.callback();
  }
}

/** The client's platform on Moddable. */
export function moddablePlatform(options: ModdablePlatformOptions = {}): Platform {
  const slots = options.viewCache ?? 16;
  const shared: Shared = {
    rx: new ViewCache(new Uint8Array(options.receiveBytes ?? 512), slots),
    tx: new ViewCache(new Uint8Array(options.stagingBytes ?? 512), slots),
    tls: options.tls ?? {},
  };
  return {
    connect: (broker, sink) => new TcpTransport(shared, broker, sink),
    timer: (callback) => new ReusableTimer(callback),
    now: () => Time.ticks >>> 0,
  };
}
