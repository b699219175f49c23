/**
 * The XS side of the bridge in worker.ts: installs the global `handleCommand` that the
 * worker's `call(op, ...args)` reaches. Runs inside xsnap, so it uses only what XS has
 * there (TextEncoder/TextDecoder exist in xsnap; they are not used by device code).
 */
export type Ops = Record<string, (...args: any[]) => unknown>;

declare const globalThis: { handleCommand?: (bytes: ArrayBuffer) => ArrayBuffer };

/**
 * Installs `handleCommand`: a message starting with `{` is a JSON `{op, args}` call of
 * `ops`; any other goes to `other` (the bridge's binary transport and timer events).
 */
export function serve(ops: Ops, other?: (bytes: Uint8Array) => void): void {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const none = new ArrayBuffer(0);
  globalThis.handleCommand = (bytes: ArrayBuffer): ArrayBuffer => {
    const view = new Uint8Array(bytes);
    if (view[0] !== 0x7b && other) {
      other(view);
      return none;
    }
    let out: string;
    try {
      const { op, args } = JSON.parse(dec.decode(view)) as { op: string; args: unknown[] };
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
