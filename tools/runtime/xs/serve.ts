/**
 * The XS side of the bridge in worker.ts: installs the global `handleCommand` that the
 * worker's `call(op, ...args)` and `callWith(bytes, op, ...args)` reach. Runs inside
 * xsnap, so it uses only what XS has there (TextEncoder/TextDecoder exist in xsnap; they
 * are not used by device code).
 */
import { ToXs } from "../../../src/platform/xsnap/protocol.js";

export type Ops = Record<string, (...args: any[]) => unknown>;

declare const globalThis: { handleCommand?: (bytes: ArrayBuffer) => ArrayBuffer };

/**
 * Installs `handleCommand`. A message starting with `{` is a JSON `{op, args}` call of
 * `ops`; one starting with {@link ToXs.Op} is the same call with the bytes after the JSON
 * as the op's last argument (a view, valid during the call only); any other goes to
 * `other` (the bridge's binary transport and timer events).
 */
export function serve(ops: Ops, other?: (bytes: Uint8Array) => void): void {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const none = new ArrayBuffer(0);
  globalThis.handleCommand = (bytes: ArrayBuffer): ArrayBuffer => {
    const view = new Uint8Array(bytes);
    const binary = view[0] === ToXs.Op;
    if (!binary && view[0] !== 0x7b && other) {
      other(view);
      return none;
    }
    let out: string;
    try {
      let json = view;
      let tail: Uint8Array | null = null;
      if (binary) {
        const n = ((view[1] << 24) | (view[2] << 16) | (view[3] << 8) | view[4]) >>> 0;
        json = view.subarray(5, 5 + n);
        tail = view.subarray(5 + n);
      }
      const { op, args } = JSON.parse(dec.decode(json)) as { op: string; args: unknown[] };
      const f = ops[op];
      if (!f) throw new Error(`no op ${op}`);
      if (tail) args.push(tail);
      out = JSON.stringify({ ok: f(...args) ?? null });
    } catch (e) {
      const err = e as Error;
      out = JSON.stringify({ error: `${err && err.name}: ${err && err.message}\n${(err && err.stack) || ""}` });
    }
    const u = enc.encode(out);
    return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
  };
}
