/**
 * The Node side of the xsnap bridge: owns the real sockets and timers for code running
 * inside XS (src/platform/xsnap). Transport and timer events go into XS as binary
 * commands, in order; XS's writes, closes and timer settings arrive as queries and are
 * answered at once.
 */
import { nodePlatform } from "../../../src/platform/node/index.js";
import type { BrokerAddress, Platform, Transport } from "../../../src/mqtt/platform.js";
import { FromXs, ToXs } from "../../../src/platform/xsnap/protocol.js";
import { XsWorker, type Meter } from "./worker.js";

const dec = new TextDecoder();
const enc = new TextEncoder();

export class XsBridge {
  private conns = new Map<number, Transport>();
  private timers = new Map<number, NodeJS.Timeout>();
  private closed = false;
  /** Failures delivering events into XS (a crash there); tests assert this stays empty. */
  readonly failures: string[] = [];

  private constructor(
    readonly worker: XsWorker,
    private onEvent: (event: any, bytes?: Uint8Array) => void,
    /** Dials the sockets XS asks for. */
    private platform: Platform,
  ) {
    worker.onQuery = (b) => this.query(b);
  }

  /** Starts a worker, installs the bridge, and imports `entry`. Events come with the bytes they carry, if any. */
  static async start(entry: string, onEvent: (event: any, bytes?: Uint8Array) => void, name = "xsmqtt-bridge", platform: Platform = nodePlatform()): Promise<XsBridge> {
    const worker = new XsWorker(name);
    const bridge = new XsBridge(worker, onEvent, platform);
    await worker.importModule(entry);
    return bridge;
  }

  /** Calls an op of the module served in XS. */
  async call<R>(op: string, ...args: unknown[]): Promise<{ result: R; meter: Meter }> {
    return this.worker.call<R>(op, ...args);
  }

  /** Calls an op with `bytes` as its last argument, carried as bytes. */
  async callWith<R>(bytes: Uint8Array, op: string, ...args: unknown[]): Promise<{ result: R; meter: Meter }> {
    return this.worker.callWith<R>(bytes, op, ...args);
  }

  private post(kind: number, id: number, payload?: Uint8Array): void {
    if (this.closed) return;
    const m = new Uint8Array(3 + (payload ? payload.length : 0));
    m[0] = kind;
    m[1] = id >> 8;
    m[2] = id & 0xff;
    if (payload) m.set(payload, 3);
    this.worker.command(m).catch((e) => {
      if (!this.closed) this.failures.push(String(e));
    });
  }

  private query(b: Uint8Array): Uint8Array {
    const id = (b[1] << 8) | b[2];
    switch (b[0]) {
      case FromXs.Connect: {
        const broker = JSON.parse(dec.decode(b.subarray(3))) as BrokerAddress;
        let t: Transport;
        try {
          t = this.platform.connect(broker, {
            onConnect: () => this.post(ToXs.Connected, id),
            onData: (d, s, e) => this.post(ToXs.Data, id, d.subarray(s, e)),
            onWritable: () => this.post(ToXs.Writable, id),
            onClose: (reason) => {
              this.conns.delete(id);
              this.post(ToXs.Closed, id, reason ? enc.encode(reason) : undefined);
            },
          });
        } catch (e) {
          // the transport could not even start (a bad key, say): XS hears it as a close
          this.post(ToXs.Closed, id, enc.encode(`cannot connect: ${(e as Error).message}`));
          return new Uint8Array(0);
        }
        this.conns.set(id, t);
        return new Uint8Array(0);
      }
      case FromXs.Write: {
        const t = this.conns.get(id);
        const n = t ? t.write(b, 3, b.length) : 0;
        return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
      }
      case FromXs.Close:
        this.conns.get(id)?.close();
        this.conns.delete(id);
        return new Uint8Array(0);
      case FromXs.TimerSet: {
        const ms = ((b[3] << 24) | (b[4] << 16) | (b[5] << 8) | b[6]) >>> 0;
        clearTimeout(this.timers.get(id));
        this.timers.set(
          id,
          setTimeout(() => {
            this.timers.delete(id);
            this.post(ToXs.Timer, id);
          }, ms),
        );
        return new Uint8Array(0);
      }
      case FromXs.TimerClear:
        clearTimeout(this.timers.get(id));
        this.timers.delete(id);
        return new Uint8Array(0);
      case FromXs.Event: {
        const n = ((b[3] << 24) | (b[4] << 16) | (b[5] << 8) | b[6]) >>> 0;
        // `b` is this message's own copy: the bytes stay valid after the call
        this.onEvent(JSON.parse(dec.decode(b.subarray(7, 7 + n))), b.length > 7 + n ? b.subarray(7 + n) : undefined);
        return new Uint8Array(0);
      }
    }
    throw new Error(`unknown bridge query ${b[0]}`);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
    await this.worker.close();
  }
}
