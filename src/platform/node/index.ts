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

class NodeTransport implements Transport {
  private socket: net.Socket;
  private blocked = false;
  private closed = false;
  private error: Error | null = null;

  constructor(broker: NodeBroker, sink: TransportSink) {
    const { host, port } = broker;
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
    } else {
      this.socket = net.connect({ host, port });
      this.socket.once("connect", () => this.closed || sink.onConnect());
    }
    const s = this.socket;
    s.setNoDelay(true);
    s.on("data", (d: Buffer) => this.closed || sink.onData(d, 0, d.length));
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
    // copy: the client reuses its buffers as soon as this returns
    if (!this.socket.write(Buffer.from(data.subarray(start, end)))) this.blocked = true;
    return end - start;
  }

  writePacket(head: Uint8Array, body: Uint8Array): boolean {
    if (this.closed || this.blocked || this.socket.destroyed) return false;
    // one socket write per packet, copied: the client reuses its buffers as soon as this returns
    const b = Buffer.allocUnsafe(head.length + body.length);
    b.set(head, 0);
    b.set(body, head.length);
    if (!this.socket.write(b)) this.blocked = true;
    return true;
  }

  close(): void {
    if (this.closed && this.socket.destroyed) return;
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
}

/** The platform for running the client on Node. */
export function nodePlatform(options: NodePlatformOptions = {}): Platform {
  const offset = options.clockOffset ?? 0;
  return {
    connect: (broker, sink) => new NodeTransport(broker as NodeBroker, sink),
    timer: (callback) => new NodeTimer(callback),
    now: () => (Math.floor(performance.now()) + offset) >>> 0,
  };
}
