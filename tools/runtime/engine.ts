/**
 * The engines the host runs our compiled JavaScript on, and the one place that chooses
 * between them: "node" calls a module's ops in this process over the Node platform; "xs"
 * imports the same compiled module into the real XS engine (xsnap) and reaches its ops
 * over the bridge (xs/bridge.ts), whose sockets and timers are this process's. Results
 * and events are JSON either way, so callers compare like with like; bytes an op takes
 * or an event carries travel as bytes on both.
 *
 * The CLI, `npm start`, the soak tool, the benchmarks and the test suites all start
 * engines here.
 */
import type { Files } from "../../src/app/board.js";
import type { Platform } from "../../src/mqtt/platform.js";
import { nodePlatform } from "../../src/platform/node/index.js";
import { XsBridge } from "./xs/bridge.js";

export type EngineName = "node" | "xs";

/** Every engine, in the order suites run them. */
export const ENGINE_NAMES: readonly EngineName[] = ["node", "xs"];

export function isEngineName(s: unknown): s is EngineName {
  return s === "node" || s === "xs";
}

/** How a module reports to the host: a JSON-able event, with the bytes it carries (a payload), if any. */
export type Emit = (event: object, bytes?: Uint8Array) => void;

export type Ops = Record<string, (...args: any[]) => unknown>;

/** A module of ops that runs on either engine. */
export interface EngineModule {
  /** Makes the ops in this process (engine "node"). */
  local(platform: Platform, emit: Emit): Ops;
  /** The compiled XS entry (absolute path) that serves the same ops over the xsnap platform. */
  entry: string;
}

export interface EngineOptions {
  /** Receives the module's events; `bytes` is a copy the receiver may keep. */
  onEvent?: (event: any, bytes?: Uint8Array) => void;
  /** The platform that dials sockets and runs timers, for the module (node) or the bridge (xs). Default: Node's. */
  platform?: Platform;
  /** The xsnap worker's name (shows in `ps`). */
  workerName?: string;
  /** Flash files the host keeps for code in XS (the bridge serves them); Node-engine modules take theirs directly. */
  files?: Files;
}

/** A module running on one engine. */
export interface Engine {
  readonly name: EngineName;
  call<R = any>(op: string, ...args: unknown[]): Promise<R>;
  /** Calls `op` with `bytes` as its last argument. The op must not keep the view past the call. */
  callWith<R = any>(bytes: Uint8Array, op: string, ...args: unknown[]): Promise<R>;
  /** Problems delivering events into XS (a crash there); empty when all is well, always on Node. */
  failures(): string[];
  /** The XS bridge (null on Node), for callers that read the worker's meter. */
  readonly bridge: XsBridge | null;
  close(): Promise<void>;
}

/** Starts `module` on engine `name`. Rejects if the XS engine cannot start or import the entry. */
export async function startEngine(name: EngineName, module: EngineModule, options: EngineOptions = {}): Promise<Engine> {
  const platform = options.platform ?? nodePlatform();
  const onEvent = options.onEvent ?? (() => undefined);
  if (name === "node") {
    // the same JSON trip the XS bridge makes, and a copy of the bytes (the module reuses its buffers)
    const ops = module.local(platform, (e, bytes) => onEvent(JSON.parse(JSON.stringify(e)), bytes && bytes.length > 0 ? Buffer.from(bytes) : undefined));
    const run = (op: string, args: unknown[]) => {
      const f = ops[op];
      if (!f) throw new Error(`no op ${op}`);
      return JSON.parse(JSON.stringify(f(...args) ?? null));
    };
    return {
      name,
      call: async (op, ...args) => run(op, args),
      callWith: async (bytes, op, ...args) => run(op, [...args, bytes]),
      failures: () => [],
      bridge: null,
      close: async () => undefined,
    };
  }
  const bridge = await XsBridge.start(module.entry, onEvent, options.workerName, platform, options.files ?? null);
  return {
    name,
    call: async (op, ...args) => (await bridge.call<any>(op, ...args)).result,
    callWith: async (bytes, op, ...args) => (await bridge.callWith<any>(bytes, op, ...args)).result,
    failures: () => bridge.failures,
    bridge,
    close: () => bridge.close(),
  };
}
