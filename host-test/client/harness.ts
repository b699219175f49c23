/**
 * Test-side access to clients on either engine, and the event log the driver fills.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nodePlatform } from "../../src/platform/node/index.js";
import { XsBridge } from "../xs/bridge.js";
import { makeDriver, type Driver } from "./driver.js";

const here = path.dirname(fileURLToPath(import.meta.url));

export interface Event {
  type: string;
  client: string;
  [k: string]: any;
}

export class EventLog {
  readonly events: Event[] = [];
  private waiters: { pred: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];

  push(e: Event): void {
    this.events.push(e);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(e)) return true;
      w.resolve(e);
      return false;
    });
  }

  of(type: string, client?: string): Event[] {
    return this.events.filter((e) => e.type === type && (client === undefined || e.client === client));
  }

  /** The first event (already logged or still to come) that satisfies `pred`. */
  waitFor(pred: (e: Event) => boolean, ms: number, what: string): Promise<Event> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (e: Event) => (clearTimeout(timer), resolve(e)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; last events: ${JSON.stringify(this.events.slice(-5))}`));
      }, ms);
      this.waiters.push(w);
    });
  }

  /** Waits until `count` events satisfy `pred`. */
  async waitCount(pred: (e: Event) => boolean, count: number, ms: number, what: string): Promise<Event[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.events.filter(pred);
      if (found.length >= count) return found;
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${count} × ${what}; got ${found.length}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  clear(): void {
    this.events.length = 0;
  }
}

type Ops = { [K in keyof Driver]: Driver[K] };

export interface ClientEngine {
  readonly name: "node" | "xs";
  readonly log: EventLog;
  call<K extends keyof Ops>(op: K, ...args: Parameters<Ops[K]>): Promise<ReturnType<Ops[K]>>;
  /** Problems inside the engine (an XS crash); empty when all is well. */
  failures(): string[];
  /** The XS bridge (null on Node), for suites that read the worker's meter. */
  readonly bridge: XsBridge | null;
  close(): Promise<void>;
}

export async function openClientEngine(name: "node" | "xs"): Promise<ClientEngine> {
  const log = new EventLog();
  const names: string[] = [];
  let run: (op: keyof Ops, args: unknown[]) => Promise<unknown>;
  let bridge: XsBridge | null = null;
  if (name === "node") {
    const driver = makeDriver(nodePlatform(), (e) => log.push(JSON.parse(JSON.stringify(e))));
    // the same JSON trip the XS bridge makes, so results compare exactly
    run = async (op, args) => JSON.parse(JSON.stringify((driver[op] as (...a: unknown[]) => unknown)(...args) ?? null));
  } else {
    const b = (bridge = await XsBridge.start(path.join(here, "xs-entry.js"), (e) => log.push(e)));
    run = async (op, args) => (await b.call(op, ...args)).result;
  }
  return {
    name,
    log,
    bridge,
    async call(op, ...args) {
      if (op === "create") names.push(args[0] as string);
      return (await run(op, args)) as never;
    },
    failures: () => bridge?.failures ?? [],
    async close() {
      for (const n of names) await run("close", [n]).catch(() => undefined);
      await bridge?.close();
    },
  };
}
