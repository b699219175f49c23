/**
 * Test-side access to clients on either engine, and the event log the driver fills.
 */
import { startEngine, type EngineName } from "../../tools/runtime/engine.js";
import type { Driver } from "../../tools/runtime/driver.js";
import { driverModule } from "../../tools/runtime/modules.js";
import type { XsBridge } from "../../tools/runtime/xs/bridge.js";

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
  readonly name: EngineName;
  readonly log: EventLog;
  call<K extends keyof Ops>(op: K, ...args: Parameters<Ops[K]>): Promise<ReturnType<Ops[K]>>;
  /** Problems inside the engine (an XS crash); empty when all is well. */
  failures(): string[];
  /** The XS bridge (null on Node), for suites that read the worker's meter. */
  readonly bridge: XsBridge | null;
  close(): Promise<void>;
}

/** The driver on engine `name`; a message event's payload bytes are logged as `payload`, in hex. */
export async function openClientEngine(name: EngineName): Promise<ClientEngine> {
  const log = new EventLog();
  const names: string[] = [];
  const engine = await startEngine(name, driverModule, {
    onEvent: (e, bytes) => log.push(e.type === "message" || e.type === "handler" ? { ...e, payload: bytes ? Buffer.from(bytes).toString("hex") : "" } : e),
  });
  return {
    name,
    log,
    bridge: engine.bridge,
    async call(op, ...args) {
      if (op === "create") names.push(args[0] as string);
      return (await engine.call(op, ...args)) as never;
    },
    failures: () => engine.failures(),
    async close() {
      for (const n of names) await engine.call("close", n).catch(() => undefined);
      await engine.close();
    },
  };
}
