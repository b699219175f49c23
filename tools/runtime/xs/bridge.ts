/**
 * The Node side of the xsnap bridge: owns the real sockets and timers for code running
 * inside XS (src/platform/xsnap). Transport and timer events go into XS as binary
 * commands, in order; XS's writes, closes and timer settings arrive as queries and are
 * answered at once.
 */
import { nodePlatform } from "../../../src/platform/node/index.js";
import type { Files, StoredFile } from "../../../src/app/board.js";
import type { BrokerAddress, Platform, Transport } from "../../../src/mqtt/platform.js";
import { FileOp, FromXs, ToXs } from "../../../src/platform/xsnap/protocol.js";
import { XsWorker, type Meter } from "./worker.js";

const dec = new TextDecoder();
const enc = new TextEncoder();

export class XsBridge {
  private conns = new Map<number, Transport>();
  private timers = new Map<number, NodeJS.Timeout>();
  private openFiles = new Map<number, StoredFile>();
  private nextFile = 1;
  private closed = false;
  /** Failures delivering events into XS (a crash there); tests assert this stays empty. */
  readonly failures: string[] = [];

  private constructor(
    readonly worker: XsWorker,
    private onEvent: (event: any, bytes?: Uint8Array) => void,
    /** Dials the sockets XS asks for. */
    private platform: Platform,
    /** The board's flash files (a folder), if the run keeps any. */
    private files: Files | null,
  ) {
    worker.onQuery = (b) => this.query(b);
  }

  /** Starts a worker, installs the bridge, and imports `entry`. Events come with the bytes they carry, if any. */
  static async start(
    entry: string,
    onEvent: (event: any, bytes?: Uint8Array) => void,
    name = "xsmqtt-bridge",
    platform: Platform = nodePlatform(),
    files: Files | null = null,
  ): Promise<XsBridge> {
    const worker = new XsWorker(name);
    const bridge = new XsBridge(worker, onEvent, platform, files);
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
      case FromXs.File:
        return this.file(id, b);
    }
    throw new Error(`unknown bridge query ${b[0]}`);
  }

  /** A file operation from XS (protocol.ts FileOp): [0, result…] or [1, failure UTF-8]. */
  private file(id: number, b: Uint8Array): Uint8Array {
    const files = this.files;
    if (!files) return new Uint8Array(0);
    const u32 = (at: number) => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
    const done = (result?: Uint8Array) => {
      const out = new Uint8Array(1 + (result ? result.length : 0));
      if (result) out.set(result, 1);
      return out;
    };
    try {
      const op = b[3];
      if (op === FileOp.Open) {
        const f = files.open(dec.decode(b.subarray(5)), b[4] === 1);
        if (!f) return done(new Uint8Array(2));
        const h = this.nextFile++;
        this.openFiles.set(h, f);
        return done(new Uint8Array([h >> 8, h & 0xff]));
      }
      if (op === FileOp.Remove) return files.remove(dec.decode(b.subarray(4))), done();
      if (op === FileOp.Rename) {
        const n = b[4];
        files.rename(dec.decode(b.subarray(5, 5 + n)), dec.decode(b.subarray(5 + n)));
        return done();
      }
      const f = this.openFiles.get(id);
      if (!f) throw new Error(`file ${id} is not open`);
      switch (op) {
        case FileOp.Size: {
          const n = f.size();
          return done(new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]));
        }
        case FileOp.Read: {
          const into = new Uint8Array(u32(8));
          return done(into.subarray(0, f.read(into, u32(4))));
        }
        case FileOp.Write:
          return f.write(b.subarray(8), u32(4)), done();
        case FileOp.Truncate:
          return f.truncate(u32(4)), done();
        case FileOp.Sync:
          return f.sync(), done();
        case FileOp.Close:
          this.openFiles.delete(id);
          return f.close(), done();
      }
      throw new Error(`unknown file operation ${op}`);
    } catch (e) {
      const m = enc.encode(String((e as Error).message));
      const out = new Uint8Array(1 + m.length);
      out[0] = 1;
      out.set(m, 1);
      return out;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
    for (const f of this.openFiles.values()) f.close();
    this.openFiles.clear();
    await this.worker.close();
  }
}
