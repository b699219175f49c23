/**
 * The engines a suite runs on: Node calls the compiled modules directly; XS runs the same
 * compiled files inside the real XS engine through the xsnap bridge. Results travel as
 * JSON either way so assertions compare like with like.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startXs, type XsWorker } from "./xs/worker.js";

export interface Engine {
  readonly name: "node" | "xs";
  call<R>(op: string, ...args: unknown[]): Promise<R>;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** An engine over a module of ops; `entry` is the XS entry (relative to dist/host-test) that serves the same module. */
export async function openEngine(name: "node" | "xs", ops: Record<string, unknown>, entry: string): Promise<Engine> {
  if (name === "node") {
    return {
      name,
      async call<R>(op: string, ...args: unknown[]): Promise<R> {
        const f = ops[op] as (...a: unknown[]) => unknown;
        // the same JSON trip the XS bridge makes, so results compare exactly
        return JSON.parse(JSON.stringify(f(...args) ?? null)) as R;
      },
      async close() {},
    };
  }
  const worker: XsWorker = await startXs(path.join(here, entry), `xsmqtt-${path.basename(entry)}`);
  return {
    name,
    async call<R>(op: string, ...args: unknown[]): Promise<R> {
      return (await worker.call<R>(op, ...args)).result;
    },
    close: () => worker.close(),
  };
}

/** Engines to run: both unless XSMQTT_ENGINES says otherwise (e.g. "node"). */
export const ENGINES: ("node" | "xs")[] = (process.env.XSMQTT_ENGINES ?? "node,xs").split(",").map((s) => s.trim()) as ("node" | "xs")[];
