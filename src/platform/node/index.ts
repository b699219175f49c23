/**
 * The Node platform: TCP (`net`) and TLS (`tls`) transports honouring socket
 * backpressure, timers and a monotonic clock. Host only; never part of a device build.
 */
import net from "node:net";
import { performance } from "node:perf_hooks";
import tls from "node:tls";
import type { BrokerAddress, Platform, Timer, Transport, TransportSink } from "../../mqtt/platform.js";

/** TLS settings a broker entry may carry (PEM text, not file names). */
export interface NodeTlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Name to check the server certificate against; defaults to the host. */
  servername?: string;
  /** Default true. */
  rejectUnauthorized?: boolean;
  /** Default true. False: any name in the certificate will do (the chain is still verified); this connection only. */
  checkServerName?: boolean;
}

export type NodeBroker = BrokerAddress & NodeTlsOptions;

/** Bytes staged per transport before a flush is forced within the turn (default of {@link NodePlatformOptions.writeBuffer}). */
const STAGE_BYTES = 16 * 1024;
/** Received bytes land here on a plain TCP socket (no Buffer per read): Node's own read size. */
const READ_BYTES = 64 * 1024;
/** Below this many bytes a byte loop copies faster than `set(subarray(...))`, which makes a view. */
const LOOP_COPY = 32;

/**
 * One connection. Writes are staged: every packet written in one turn of the event loop is
 * copied into one buffer and reaches the socket as one `socket.write` when the turn ends
 * (`process.nextTick`), or earlier when the buffer fills, so the broker reads fewer, fuller
 * segments and Node makes one write request per turn instead of one Buffer and one request
 * per packet. The stage is reused while the socket holds none of it (the kernel took the
 * last flush at once, the usual case); while a flush is still queued in the socket the
 * stage fills on after it, and a fresh one replaces it when full.
 */
class NodeTransport implements Transport {
  private socket: net.Socket;
  private blocked = false;
  private closed = false;
  private error: Error | null = null;
  private stage: Buffer;
  /** Staged bytes not yet handed to the socket: `stage[from, at)`. */
  private from = 0;
  private at = 0;
  private flushQueued = false;
  private readonly flushLater = () => {
    this.flushQueued = false;
    this.flush();
  };

  constructor(broker: NodeBroker, sink: TransportSink, stageBytes: number) {
    const { host, port } = broker;
    this.stage = Buffer.allocUnsafeSlow(stageBytes);
    if (broker.tls) {
      this.socket = tls.connect({
        host,
        port,
        ca: broker.ca,
        cert: broker.cert,
        key: broker.key,
        servername: broker.servername ?? (net.isIP(host) ? undefined : host),
        rejectUnauthorized: broker.rejectUnauthorized !== false,
        ...(broker.checkServerName === false ? { checkServerIdentity: () => undefined } : {}),
      });
      this.socket.once("secureConnect", () => this.closed || sink.onConnect());
      this.socket.on("data", (d: Buffer) => this.closed || sink.onData(d, 0, d.length));
    } else {
      // one read buffer for the connection: the sink parses or copies before it returns
      this.socket = net.connect({
        host,
        port,
        onread: {
          buffer: Buffer.allocUnsafeSlow(READ_BYTES),
          callback: (n, b) => {
            if (!this.closed) sink.onData(b, 0, n);
            return true;
          },
        },
      });
      this.socket.once("connect", () => this.closed || sink.onConnect());
    }
    const s = this.socket;
    s.setNoDelay(true);
    s.on("drain", () => {
      this.blocked = false;
      if (!this.closed) sink.onWritable();
    });
    s.on("error", (e) => (this.error = e));
    s.on("close", () => {
      if (this.closed) return;
      this.closed = true;
      sink.onClose(this.error ? describe(this.error) : null);
    });
  }

  write(data: Uint8Array, start: number, end: number): number {
    if (this.closed || this.blocked || this.socket.destroyed) return 0;
    const n = end - start;
    if (!this.room(n)) {
      if (this.blocked) return 0;
      // larger than the stage: a copy of its own, after what is staged
      this.send(Buffer.from(data.subarray(start, end)));
      return n;
    }
    const b = this.stage;
    let at = this.at;
    if (n <= LOOP_COPY) for (let i = start; i < end; i++) b[at++] = data[i];
    else {
      b.set(data.subarray(start, end), at);
      at += n;
    }
    this.at = at;
    return n;
  }

  writePacket(head: Uint8Array, body: Uint8Array): boolean {
    if (this.closed || this.blocked || this.socket.destroyed) return false;
    const h = head.length;
    const n = h + body.length;
    if (!this.room(n)) {
      if (this.blocked) return false;
      const b = Buffer.allocUnsafe(n);
      b.set(head, 0);
      b.set(body, h);
      this.send(b);
      return true;
    }
    const b = this.stage;
    b.set(head, this.at);
    b.set(body, this.at + h);
    this.at += n;
    return true;
  }

  /**
   * Makes room for `n` staged bytes and schedules the flush; false when they cannot be
   * staged (larger than the stage, or the flush that made room met backpressure).
   */
  private room(n: number): boolean {
    if (this.from === this.at) {
      // nothing staged: start at the front again unless the socket still holds a flush
      if (this.at !== 0 && this.socket.writableLength === 0) this.from = this.at = 0;
      if (!this.flushQueued) {
        this.flushQueued = true;
        process.nextTick(this.flushLater);
      }
    }
    if (this.at + n <= this.stage.length) return true;
    this.flush();
    if (this.blocked) return false;
    if (n > this.stage.length) return false;
    if (this.socket.writableLength !== 0) this.stage = Buffer.allocUnsafeSlow(this.stage.length);
    this.from = this.at = 0;
    return true;
  }

  /** Hands the staged bytes to the socket. */
  private flush(): void {
    if (this.from === this.at) return;
    const chunk = this.stage.subarray(this.from, this.at);
    this.from = this.at;
    if (!this.socket.destroyed) this.send(chunk);
  }

  private send(b: Buffer): void {
    if (!this.socket.write(b)) this.blocked = true;
  }

  close(): void {
    if (this.closed && this.socket.destroyed) return;
    this.flush(); // a final DISCONNECT may be staged
    this.closed = true;
    const s = this.socket;
    if (s.writableLength > 0 && !s.destroyed) {
      // let a final DISCONNECT go out, but never wait on a dead peer for long
      s.end();
      setTimeout(() => s.destroy(), 2000).unref();
    } else s.destroy();
  }
}

/** A readable reason that never includes key material. */
function describe(e: Error & { code?: string }): string {
  return e.code ? `${e.code}: ${e.message}` : e.message;
}

class NodeTimer implements Timer {
  private handle: NodeJS.Timeout | null = null;
  constructor(private callback: () => void) {}
  set(ms: number): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = setTimeout(() => {
      this.handle = null;
      this.callback();
    }, ms);
  }
  clear(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
  }
}

export interface NodePlatformOptions {
  /** Added to the clock, to test wrap-around of the 32-bit millisecond clock. */
  clockOffset?: number;
  /**
   * Bytes each connection stages before it writes to its socket (default 16 KB): what one
   * turn of the event loop writes goes out as one socket write while it fits.
   */
  writeBuffer?: number;
}

/** The platform for running the client on Node. */
export function nodePlatform(options: NodePlatformOptions = {}): Platform {
  const offset = options.clockOffset ?? 0;
  const stageBytes = options.writeBuffer ?? STAGE_BYTES;
  return {
    connect: (broker, sink) => new NodeTransport(broker as NodeBroker, sink, stageBytes),
    timer: (callback) => new NodeTimer(callback),
    now: () => (Math.floor(performance.now()) + offset) >>> 0,
  };
}
