/**
 * The platform for running the client inside the xsnap worker on the host: sockets and
 * timers live in the Node process (tools/runtime/xs/bridge.ts) and are reached through
 * xsnap's `issueCommand`; inbound events arrive through {@link dispatch}, which the
 * module that serves `handleCommand` calls. This is how the host tests run the device
 * code in the real XS engine; on a device, src/platform/moddable takes its place.
 */
import type { Files, StoredFile } from "../../app/board.js";
import type { BrokerAddress, Platform, Timer, Transport, TransportSink } from "../../mqtt/platform.js";
import { decodeUtf8, utf8Length, writeUtf8 } from "../../mqtt/utf8.js";
import { FileOp, FromXs, ToXs } from "./protocol.js";

interface XsnapGlobals {
  issueCommand(message: ArrayBuffer): ArrayBuffer;
  performance?: { now(): number };
}

const g = globalThis as unknown as XsnapGlobals;

/** Messages up to this size share one buffer; a bigger one (a large payload) gets its own. */
const MAIL_MAX = 1 << 20;

/** One resizable buffer for every message to the host, so a write allocates no buffer of its own. */
const mail = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(0, {
  maxByteLength: MAIL_MAX,
});
const mailBytes = new Uint8Array(mail);

/** A message of `kind` for connection or timer `id` with room for `extra` bytes; hand it to {@link post}. */
function send(kind: number, id: number, extra: number): Uint8Array {
  let b: Uint8Array = mailBytes;
  if (3 + extra <= MAIL_MAX) mail.resize(3 + extra);
  else b = new Uint8Array(3 + extra);
  b[0] = kind;
  b[1] = id >> 8;
  b[2] = id & 0xff;
  return b;
}

/** Sends a message made by {@link send}; returns the host's answer. */
function post(b: Uint8Array): ArrayBuffer {
  return g.issueCommand(b.buffer as ArrayBuffer);
}

/** Sends `value` as JSON (UTF-8) in a message of `kind`. */
function sendJson(value: unknown, kind: number, id: number): void {
  const s = JSON.stringify(value); // escapes U+0000 and lone surrogates, so utf8Length accepts it
  const b = send(kind, id, utf8Length(s));
  writeUtf8(b, 3, s);
  post(b);
}

const sinks = new Map<number, TransportSink>();
const timers = new Map<number, () => void>();
let nextConn = 1;
let nextTimer = 1;

class BridgeTransport implements Transport {
  constructor(private id: number) {}
  write(data: Uint8Array, start: number, end: number): number {
    if (!sinks.has(this.id)) return 0;
    const b = send(FromXs.Write, this.id, end - start);
    b.set(data.subarray(start, end), 3);
    const r = new Uint8Array(post(b));
    return ((r[0] << 24) | (r[1] << 16) | (r[2] << 8) | r[3]) >>> 0;
  }
  writePacket(head: Uint8Array, body: Uint8Array): boolean {
    if (!sinks.has(this.id)) return false;
    const n = head.length + body.length;
    const b = send(FromXs.Write, this.id, n);
    b.set(head, 3);
    b.set(body, 3 + head.length);
    const r = new Uint8Array(post(b));
    const taken = ((r[0] << 24) | (r[1] << 16) | (r[2] << 8) | r[3]) >>> 0;
    // the host's transport takes a write whole or not at all
    if (taken !== 0 && taken !== n) throw new Error(`bridge took ${taken} of ${n} bytes of a packet`);
    return taken === n;
  }
  close(): void {
    if (!sinks.delete(this.id)) return;
    post(send(FromXs.Close, this.id, 0));
  }
}

class BridgeTimer implements Timer {
  constructor(private id: number) {}
  set(ms: number): void {
    const b = send(FromXs.TimerSet, this.id, 4);
    const v = Math.max(0, Math.min(0x7fffffff, Math.round(ms)));
    b[3] = v >>> 24;
    b[4] = (v >>> 16) & 0xff;
    b[5] = (v >>> 8) & 0xff;
    b[6] = v & 0xff;
    post(b);
  }
  clear(): void {
    post(send(FromXs.TimerClear, this.id, 0));
  }
}

/**
 * Sends an event to the host: `event` as JSON, and `bytes` (a payload), if given, as
 * bytes after it.
 */
export function emit(event: unknown, bytes?: Uint8Array): void {
  const s = JSON.stringify(event); // escapes U+0000 and lone surrogates, so utf8Length accepts it
  const n = utf8Length(s);
  const b = send(FromXs.Event, 0, 4 + n + (bytes ? bytes.length : 0));
  b[3] = n >>> 24;
  b[4] = (n >>> 16) & 0xff;
  b[5] = (n >>> 8) & 0xff;
  b[6] = n & 0xff;
  writeUtf8(b, 7, s);
  if (bytes) b.set(bytes, 7 + n);
  post(b);
}

/** The platform; the clock is xsnap's `performance.now`, as a wrapping 32-bit count. */
export function xsnapPlatform(options: { clockOffset?: number } = {}): Platform {
  const offset = options.clockOffset ?? 0;
  const perf = g.performance;
  return {
    connect(broker: BrokerAddress, sink: TransportSink): Transport {
      const id = nextConn++;
      sinks.set(id, sink);
      sendJson(broker, FromXs.Connect, id);
      return new BridgeTransport(id);
    },
    timer(callback: () => void): Timer {
      const id = nextTimer++;
      timers.set(id, callback);
      return new BridgeTimer(id);
    },
    now: () => (Math.floor(perf ? perf.now() : 0) + offset) >>> 0,
  };
}

/** Asks the host for file operation `op` on file `id` with `args` bytes; returns the result bytes or throws the host's failure. */
function fileCall(id: number, op: number, args: number, fill: (b: Uint8Array, at: number) => void): Uint8Array {
  const b = send(FromXs.File, id, 1 + args);
  b[3] = op;
  fill(b, 4);
  const r = new Uint8Array(post(b));
  if (r.length === 0) throw new Error("the host keeps no files for this board");
  if (r[0] !== 0) throw new Error(decodeUtf8(r, 1, r.length));
  return r.subarray(1);
}

const none = () => undefined;

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

class BridgeFile implements StoredFile {
  constructor(private id: number) {}
  size(): number {
    const r = fileCall(this.id, FileOp.Size, 0, none);
    return ((r[0] << 24) | (r[1] << 16) | (r[2] << 8) | r[3]) >>> 0;
  }
  read(into: Uint8Array, position: number): number {
    const r = fileCall(this.id, FileOp.Read, 8, (b, at) => {
      put32(b, at, position);
      put32(b, at + 4, into.length);
    });
    into.set(r);
    return r.length;
  }
  write(bytes: Uint8Array, position: number): void {
    fileCall(this.id, FileOp.Write, 4 + bytes.length, (b, at) => {
      put32(b, at, position);
      b.set(bytes, at + 4);
    });
  }
  truncate(length: number): void {
    fileCall(this.id, FileOp.Truncate, 4, (b, at) => put32(b, at, length));
  }
  sync(): void {
    fileCall(this.id, FileOp.Sync, 0, none);
  }
  close(): void {
    if (this.id === 0) return;
    fileCall(this.id, FileOp.Close, 0, none);
    this.id = 0;
  }
}

/** The board's flash files, kept by the host in a folder (engine option `files`). */
export function xsnapFiles(): Files {
  return {
    open(name: string, create: boolean): StoredFile | null {
      const n = utf8Length(name);
      const r = fileCall(0, FileOp.Open, 1 + n, (b, at) => {
        b[at] = create ? 1 : 0;
        writeUtf8(b, at + 1, name);
      });
      const id = (r[0] << 8) | r[1];
      return id === 0 ? null : new BridgeFile(id);
    },
    remove(name: string): void {
      fileCall(0, FileOp.Remove, utf8Length(name), (b, at) => writeUtf8(b, at, name));
    },
    rename(from: string, to: string): void {
      const a = utf8Length(from);
      fileCall(0, FileOp.Rename, 1 + a + utf8Length(to), (b, at) => {
        b[at] = a;
        writeUtf8(b, at + 1, from);
        writeUtf8(b, at + 1 + a, to);
      });
    },
  };
}

function decodeReason(b: Uint8Array): string | null {
  if (b.length <= 3) return null;
  let s = "";
  for (let i = 3; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

/**
 * Delivers a host event (any {@link ToXs} kind but `Op`). Returns false for kinds it does
 * not handle.
 */
export function dispatch(b: Uint8Array): boolean {
  const id = (b[1] << 8) | b[2];
  switch (b[0]) {
    case ToXs.Connected:
      sinks.get(id)?.onConnect();
      return true;
    case ToXs.Data:
      sinks.get(id)?.onData(b, 3, b.length);
      return true;
    case ToXs.Writable:
      sinks.get(id)?.onWritable();
      return true;
    case ToXs.Closed: {
      const sink = sinks.get(id);
      sinks.delete(id);
      sink?.onClose(decodeReason(b));
      return true;
    }
    case ToXs.Timer:
      timers.get(id)?.();
      return true;
  }
  return false;
}
