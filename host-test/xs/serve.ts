/**
 * The XS side of the bridge in worker.ts: installs the global `handleCommand` that the
 * worker's `call(op, ...args)` reaches. Runs inside xsnap, so it uses only what XS has
 * there (TextEncoder/TextDecoder exist in xsnap; they are not used by device code).
 */
export type Ops = Record<string, (...args: any[]) => unknown>;

declare const globalThis: { handleCommand?: (bytes: ArrayBuffer) => ArrayBuffer };

export function serve(ops: Ops): void {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  globalThis.handleCommand = (bytes: ArrayBuffer): ArrayBuffer => {
    let out: string;
    try {
      const { op, args } = JSON.parse(dec.decode(new Uint8Array(bytes))) as { op: string; args: unknown[] };
      const f = ops[op];
      if (!f) throw new Error(`no op ${op}`);
      out = JSON.stringify({ ok: f(...args) ?? null });
    } catch (e) {
      const err = e as Error;
      out = JSON.stringify({ error: `${err && err.name}: ${err && err.message}\n${(err && err.stack) || ""}` });
    }
    const u = enc.encode(out);
    return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
  };
}
