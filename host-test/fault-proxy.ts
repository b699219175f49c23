/**
 * A loopback TCP proxy that tests put between a client and a broker to misbehave on
 * purpose: cut connections (FIN or RST), black-hole them (half-open: accept, never
 * forward), refuse new ones, delay, throttle, and re-chunk the byte stream (one byte at a
 * time, random splits, or several writes coalesced), and record what passes each way.
 *
 * A black-holed connection stays dead once it has swallowed a byte, even after `blackhole`
 * is turned off: TCP never delivers a stream with a hole in it, so neither does the proxy.
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
  /** Latency added to every chunk, each way, counted from its arrival (chunks overlap in flight). */
  delayMs = 0;
  /** Bytes per second each way; 0 for no limit. */
  throttle = 0;
  /**
   * Bytes a direction holds (delayed or throttled) before it stops reading its sender, so
   * a slow path pushes back through the socket buffers as a slow network does.
   */
  highWater = 64 * 1024;
  chunking: Chunking = "none";
  /** Connections accepted so far. */
  accepted = 0;
  /** Keep the bytes of each connection, each way, in {@link sessions}. */
  record = false;
  /** With `record`: per accepted connection, the chunks from the client (up) and from the broker (down). */
  readonly sessions: { up: Buffer[]; down: Buffer[] }[] = [];
  /**
   * Called with each piece just after it is written on, `up` for client to broker, with
   * the number of the connection (1 for the first accepted). A test may `cut()` from here,
   * to cut right after a given packet has passed.
   */
  tap: ((up: boolean, piece: Buffer, connection: number) => void) | null = null;
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
    const rec = this.record ? { up: [] as Buffer[], down: [] as Buffer[] } : null;
    if (rec) this.sessions.push(rec);
    const state = { dead: false };
    const connection = this.accepted;
    this.forward(client, upstream, state, (b) => {
      rec?.up.push(Buffer.from(b));
    }, (b) => this.tap?.(true, b, connection));
    this.forward(upstream, client, state, (b) => {
      rec?.down.push(Buffer.from(b));
    }, (b) => this.tap?.(false, b, connection));
  }

  /** Pumps `from` into `to`; `pipe.dead` (both directions) once a black hole swallowed a byte. */
  private forward(from: net.Socket, to: net.Socket, pipe: { dead: boolean }, count: (b: Buffer) => void, passed: (b: Buffer) => void): void {
    let chain = Promise.resolve();
    let pending: Buffer[] = [];
    let flushTimer: NodeJS.Timeout | null = null;
    let held = 0;
    const write = async (b: Buffer, due: number) => {
      try {
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        const pieces = this.split(b);
        for (const piece of pieces) {
          if (this.blackhole || pipe.dead) return void (pipe.dead = true);
          if (to.destroyed || !to.writable) return;
          if (this.throttle) await sleep((piece.length / this.throttle) * 1000);
          if (this.blackhole || pipe.dead) return void (pipe.dead = true);
          count(piece);
          const more = to.write(piece);
          passed(piece);
          if (to.destroyed || !to.writable) return;
          if (!more) await new Promise((r) => to.once("drain", r));
        }
      } finally {
        held -= b.length;
        if (held <= this.highWater / 2 && from.isPaused()) from.resume();
      }
    };
    from.on("data", (d: Buffer) => {
      if (this.blackhole || pipe.dead) return void (pipe.dead = true);
      held += d.length;
      if (held > this.highWater) from.pause();
      const due = Date.now() + this.delayMs;
      if (this.chunking === "coalesce") {
        pending.push(d);
        flushTimer ??= setTimeout(() => {
          flushTimer = null;
          const all = Buffer.concat(pending);
          pending = [];
          chain = chain.then(() => write(all, due));
        }, 15);
        return;
      }
      chain = chain.then(() => write(d, due));
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
