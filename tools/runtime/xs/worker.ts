/**
 * Drives the real XS engine: the `xsnap-worker` binary that `@agoric/xsnap` builds from XS's
 * C sources at install. We speak its netstring protocol ourselves (fd 3 to XS, fd 4 from
 * XS) rather than use the package's JS API, which needs SES to lock down this process.
 *
 * Node → XS: `m<path>` imports an ES module file; `?<bytes>` calls the global
 * `handleCommand(ArrayBuffer)` inside XS, whose returned ArrayBuffer comes back with the
 * meter. XS → Node: while a command runs, XS code may call `issueCommand(ArrayBuffer)`;
 * that arrives here as `?<bytes>`, goes to `onQuery`, and its answer is sent back as
 * `/<bytes>` synchronously from XS's point of view.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { ToXs } from "../../../src/platform/xsnap/protocol.js";

/** What XS reports with every reply (see ../shared/design.md for what the fields mean). */
export interface Meter {
  /** XS operations executed by the command: deterministic. */
  compute: number;
  /** Heap slots in use, recounted at each garbage collection. */
  currentHeapCount: number;
  /** Total heap size, not what the command allocated. */
  allocate: number;
}

export interface Reply {
  bytes: Uint8Array;
  meter: Meter;
}

export function xsnapWorkerPath(): string {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve("@agoric/xsnap/package.json"));
  return path.join(pkg, "xsnap-native/xsnap/build/bin/lin/release/xsnap-worker");
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class XsWorker {
  private child: ChildProcess;
  private toXs: Writable;
  private input: Buffer = Buffer.alloc(0);
  private waiting: ((msg: Buffer) => void) | null = null;
  private queue: Buffer[] = [];
  private exited: Error | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  stderr = "";
  /** Answers `issueCommand` calls made by code running in XS. */
  onQuery: (bytes: Uint8Array) => Uint8Array = () => new Uint8Array(0);

  constructor(name = "xsmqtt") {
    this.child = spawn(xsnapWorkerPath(), [name], {
      // its own process group: Ctrl-C reaches the host, which shuts XS down in order
      // (the worker still exits by itself when this process dies and its pipe closes)
      detached: true,
      stdio: ["ignore", "inherit", "pipe", "pipe", "pipe", "ignore", "ignore", "ignore", "ignore"],
    });
    const stdio = this.child.stdio as unknown as [null, null, Readable, Writable, Readable];
    this.toXs = stdio[3];
    // a worker that died (or was killed with the process group) must not crash the host
    this.toXs.on("error", () => undefined);
    stdio[2].on("data", (d: Buffer) => {
      this.stderr += d.toString();
      if (process.env.XS_TRACE) process.stderr.write(d);
    });
    stdio[4].on("data", (d: Buffer) => this.onData(d));
    this.child.on("exit", (code, signal) => {
      this.exited = new Error(`xsnap-worker exited (${signal ?? code}): ${this.stderr.trim().slice(-500)}`);
      if (this.waiting) this.waiting(Buffer.alloc(0));
    });
  }

  private onData(d: Buffer): void {
    this.input = this.input.length ? Buffer.concat([this.input, d]) : d;
    for (;;) {
      const colon = this.input.indexOf(0x3a);
      if (colon < 0) return;
      const len = Number(this.input.subarray(0, colon).toString());
      if (this.input.length < colon + 1 + len + 1) return;
      const msg = this.input.subarray(colon + 1, colon + 1 + len);
      this.input = this.input.subarray(colon + 2 + len);
      this.dispatch(Buffer.from(msg));
    }
  }

  private dispatch(msg: Buffer): void {
    if (msg[0] === 0x3f) {
      // '?': XS calls issueCommand and blocks until we answer
      let answer: Uint8Array;
      try {
        answer = this.onQuery(msg.subarray(1));
      } catch (e) {
        answer = enc.encode(JSON.stringify({ error: String(e) }));
      }
      this.write(0x2f, answer);
      return;
    }
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w(msg);
    } else this.queue.push(msg);
  }

  private write(prefix: number, body: Uint8Array): void {
    const head = Buffer.from(`${body.length + 1}:`);
    this.toXs.write(Buffer.concat([head, Buffer.from([prefix]), body, Buffer.from(",")]));
  }

  private next(): Promise<Buffer> {
    if (this.queue.length) return Promise.resolve(this.queue.shift()!);
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      this.waiting = (m) => (this.exited && m.length === 0 ? reject(this.exited) : resolve(m));
    });
  }

  private async reply(what: string): Promise<Reply> {
    const msg = await this.next();
    if (msg[0] === 0x21) throw new Error(`XS error in ${what}: ${msg.subarray(1).toString() || this.stderr.trim().split("\n").slice(-3).join(" | ")}`);
    if (msg[0] !== 0x2e) throw new Error(`xsnap protocol: unexpected reply ${msg.subarray(0, 40).toString()}`);
    const sep = msg.indexOf(1);
    const meter = JSON.parse(msg.subarray(1, sep).toString()) as Meter;
    return { bytes: msg.subarray(sep + 1), meter };
  }

  /** Runs commands one at a time, in order. */
  private serial<R>(f: () => Promise<R>): Promise<R> {
    const r = this.chain.then(f);
    this.chain = r.catch(() => undefined);
    return r;
  }

  /** Imports the ES module at `file` (absolute path), with its relative imports. */
  importModule(file: string): Promise<Reply> {
    return this.serial(() => {
      this.write(0x6d, enc.encode(path.resolve(file)));
      return this.reply(`import ${file}`);
    });
  }

  /** Evaluates a script in XS's global scope. */
  evaluate(code: string): Promise<Reply> {
    return this.serial(() => {
      this.write(0x65, enc.encode(code));
      return this.reply("evaluate");
    });
  }

  /** Calls `handleCommand(bytes)` in XS. */
  command(bytes: Uint8Array): Promise<Reply> {
    return this.serial(() => {
      this.write(0x3f, bytes);
      return this.reply("command");
    });
  }

  /** JSON in, JSON out, through a handleCommand that speaks {op, args} (see serve.ts). */
  call<R = unknown>(op: string, ...args: unknown[]): Promise<{ result: R; meter: Meter }> {
    return this.answer<R>(op, this.command(enc.encode(JSON.stringify({ op, args }))));
  }

  /**
   * Like {@link call}, with `bytes` as the op's last argument, carried as bytes after the
   * JSON ({@link ToXs.Op}): nothing in XS has to decode a long string to get them.
   */
  callWith<R = unknown>(bytes: Uint8Array, op: string, ...args: unknown[]): Promise<{ result: R; meter: Meter }> {
    const json = enc.encode(JSON.stringify({ op, args }));
    const m = new Uint8Array(5 + json.length + bytes.length);
    m[0] = ToXs.Op;
    new DataView(m.buffer).setUint32(1, json.length);
    m.set(json, 5);
    m.set(bytes, 5 + json.length);
    return this.answer<R>(op, this.command(m));
  }

  private async answer<R>(op: string, reply: Promise<Reply>): Promise<{ result: R; meter: Meter }> {
    const r = await reply;
    const text = dec.decode(r.bytes);
    const parsed = JSON.parse(text) as { ok?: R; error?: string };
    if (parsed.error !== undefined) throw new Error(`XS ${op}: ${parsed.error}`);
    return { result: parsed.ok as R, meter: r.meter };
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise((r) => this.child.once("exit", r));
    this.toXs.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 2000);
    await done;
    clearTimeout(timer);
  }
}

/** Starts a worker and imports `entry`, a module that installs `handleCommand`. */
export async function startXs(entry: string, name?: string): Promise<XsWorker> {
  const w = new XsWorker(name);
  await w.importModule(entry);
  return w;
}
