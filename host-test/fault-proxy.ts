/**
 * A loopback TCP proxy that tests put between a client and a broker to misbehave on
 * purpose: cut connections (FIN or RST), black-hole them (half-open: accept, never
 * forward), refuse new ones, delay, throttle, and re-chunk the byte stream (one byte at a
 * time, random splits, or several writes coalesced).
 */
import net from "node:net";

export type Chunking = "none" | "bytes" | "random" | "coalesce";

interface Pipe {
  client: net.Socket;
  upstream: net.Socket;
}

export class FaultProxy {
  /** Forward nothing, in either direction, on new and existing connections. */
  blackhole = false;
  /** Close new connections as soon as they are accepted. */
  refuse = false;
  /** Added to every chunk, each way. */
  delayMs = 0;
  /** Bytes per second each way; 0 for no limit. */
  throttle = 0;
  chunking: Chunking = "none";
  /** Connections accepted so far. */
  accepted = 0;
  bytesUp = 0;
  bytesDown = 0;
  private pipes = new Set<Pipe>();
  private server: net.Server;
  port = 0;

  private constructor(
    private targetPort: number,
    private targetHost: string,
  ) {
    this.server = net.createServer((c) => this.accept(c));
  }

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<FaultProxy> {
    const p = new FaultProxy(targetPort, targetHost);
    await new Promise<void>((r) => p.server.listen(0, "127.0.0.1", () => r()));
    p.port = (p.server.address() as net.AddressInfo).port;
    return p;
  }

  /** Points new connections at another broker port. */
  retarget(port: number): void {
    this.targetPort = port;
  }

  get open(): number {
    return this.pipes.size;
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    client.setNoDelay(true);
    client.on("error", () => undefined);
    if (this.refuse) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: this.targetHost, port: this.targetPort });
    upstream.setNoDelay(true);
    upstream.on("error", () => undefined);
    const pipe = { client, upstream };
    this.pipes.add(pipe);
    const end = () => {
      if (!this.pipes.delete(pipe)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end);
    upstream.on("close", end);
    this.forward(client, upstream, (n) => (this.bytesUp += n));
    this.forward(upstream, client, (n) => (this.bytesDown += n));
  }

  private forward(from: net.Socket, to: net.Socket, count: (n: number) => void): void {
    let chain = Promise.resolve();
    let pending: Buffer[] = [];
    let flushTimer: NodeJS.Timeout | null = null;
    const write = async (b: Buffer) => {
      if (this.delayMs) await sleep(this.delayMs);
      const pieces = this.split(b);
      for (const piece of pieces) {
        if (this.blackhole || to.destroyed) return;
        if (this.throttle) await sleep((piece.length / this.throttle) * 1000);
        count(piece.length);
        if (!to.write(piece)) await new Promise((r) => to.once("drain", r));
      }
    };
    from.on("data", (d: Buffer) => {
      if (this.blackhole) return;
      if (this.chunking === "coalesce") {
        pending.push(d);
        flushTimer ??= setTimeout(() => {
          flushTimer = null;
          const all = Buffer.concat(pending);
          pending = [];
          chain = chain.then(() => write(all));
        }, 15);
        return;
      }
      chain = chain.then(() => write(d));
    });
  }

  private split(b: Buffer): Buffer[] {
    if (this.chunking === "bytes") return Array.from(b, (_, i) => b.subarray(i, i + 1));
    if (this.chunking !== "random" || b.length < 2) return [b];
    const out: Buffer[] = [];
    let i = 0;
    while (i < b.length) {
      const n = 1 + Math.floor(Math.random() * Math.min(64, b.length - i));
      out.push(b.subarray(i, i + n));
      i += n;
    }
    return out;
  }

  /** Ends every open connection: "fin" closes both sides politely, "rst" resets them. */
  cut(kind: "fin" | "rst" = "rst"): void {
    for (const p of this.pipes) {
      if (kind === "rst") {
        p.client.resetAndDestroy();
        p.upstream.resetAndDestroy();
      } else {
        p.client.end();
        p.upstream.end();
      }
    }
    this.pipes.clear();
  }

  async close(): Promise<void> {
    this.cut("rst");
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
