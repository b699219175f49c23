/**
 * The engines a suite runs on (tools/runtime/engine.ts): Node calls the compiled modules
 * directly; XS runs the same compiled files inside the real XS engine through the xsnap
 * bridge. Results travel as JSON either way so assertions compare like with like.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ENGINE_NAMES, isEngineName, startEngine, type Engine, type EngineName, type Ops } from "../tools/runtime/engine.js";

export type { Engine, EngineName };

const here = path.dirname(fileURLToPath(import.meta.url));

/** An engine over a module of pure ops; `entry` is the XS entry (relative to dist/host-test) that serves the same module. */
export function openEngine(name: EngineName, ops: Record<string, unknown>, entry: string): Promise<Engine> {
  return startEngine(name, { local: () => ops as Ops, entry: path.join(here, entry) }, { workerName: `xsmqtt-${path.basename(entry)}` });
}

/** Engines to run: both unless XSMQTT_ENGINES says otherwise (e.g. "node"). */
export const ENGINES: EngineName[] = (process.env.XSMQTT_ENGINES ?? ENGINE_NAMES.join(","))
  .split(",")
  .map((s) => s.trim())
  .map((s) => {
    if (!isEngineName(s)) throw new Error(`XSMQTT_ENGINES: no engine "${s}" (${ENGINE_NAMES.join(", ")})`);
    return s;
  });
