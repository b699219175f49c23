/**
 * The simulated host board, in plain ECMAScript so it runs on Node, inside XS and in the
 * Moddable desktop simulator: a network whose drop-outs tests can trigger (transports
 * fail while it is down), the system clock as wall clock, simulated sensors, and
 * whatever storage and console the runner gives it.
 */
import type { Board, BoardDefinition, Files, Network, NetworkStatus, SerialConsole, Storage, WakeReason, WallClock } from "../../app/board.js";
import type { BrokerAddress, Platform, Timer, Transport, TransportSink } from "../../mqtt/platform.js";
import { createSimulatedSensors, type SimulatedSensor } from "./sensors.js";

/** Settings kept in memory (the XS and simulator runs; Node uses a file). */
export class MemoryStorage implements Storage {
  private values = new Map<string, string>();
  constructor(initial: { [key: string]: string } = {}) {
    for (const k of Object.keys(initial)) this.values.set(k, initial[k]);
  }
  get(key: string): string | undefined {
    return this.values.get(key);
  }
  set(key: string, value: string): void {
    this.values.set(key, value);
  }
  delete(key: string): void {
    this.values.delete(key);
  }
  keys(): string[] {
    return Array.from(this.values.keys());
  }
}

interface Live {
  transport: Transport;
  sink: TransportSink;
}

/** Wi-Fi as the host simulates it: up or down on command; a drop closes every connection. */
export class SimulatedNetwork implements Network {
  private up = true;
  private listener: ((status: NetworkStatus, detail: string) => void) | null = null;
  private live = new Set<Live>();
  private notify: Timer;
  private pending: (() => void)[] = [];

  constructor(platform: Platform) {
    // events go out from the event loop, never inside a caller's stack
    this.notify = platform.timer(() => {
      const run = this.pending;
      this.pending = [];
      for (const f of run) f();
    });
  }

  get connected(): boolean {
    return this.up;
  }

  start(onStatus: (status: NetworkStatus, detail: string) => void): void {
    this.listener = onStatus;
    this.later(() => onStatus("connecting", "simulated access point"));
    if (this.up) this.later(() => onStatus("connected", "simulated access point"));
  }

  /** Brings the network down (closing every connection) or up again. */
  setUp(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    if (!up) {
      for (const l of this.live) {
        l.transport.close();
        this.later(() => l.sink.onClose("network down"));
      }
      this.live.clear();
    }
    const listener = this.listener;
    if (listener) this.later(() => listener(up ? "connected" : "disconnected", up ? "simulated access point" : "simulated drop-out"));
  }

  /** The board's platform: the runner's, with connections gated by the network state. */
  gate(base: Platform): Platform {
    return {
      ...base,
      connect: (broker: BrokerAddress, sink: TransportSink): Transport => {
        if (!this.up) {
          this.later(() => sink.onClose("network down"));
          return { write: () => 0, writePacket: () => false, close: () => undefined };
        }
        const entry = { sink } as Live;
        const wrapped: TransportSink = {
          onConnect: () => sink.onConnect(),
          onData: (d, s, e) => sink.onData(d, s, e),
          onWritable: () => sink.onWritable(),
          onClose: (reason) => {
            this.live.delete(entry);
            sink.onClose(reason);
          },
        };
        const inner = base.connect(broker, wrapped);
        entry.transport = inner;
        this.live.add(entry);
        return {
          write: (d, s, e) => inner.write(d, s, e),
          writePacket: (h, b) => inner.writePacket(h, b),
          close: () => {
            this.live.delete(entry);
            inner.close();
          },
        };
      },
    };
  }

  private later(f: () => void): void {
    this.pending.push(f);
    if (this.pending.length === 1) this.notify.set(0);
  }
}

/** The host clock is always set: readings carry real time from the start. */
class SystemClock implements WallClock {
  readonly synchronized = true;
  now(): number {
    return Date.now();
  }
  start(onSync: () => void): void {
    onSync();
  }
}

export interface HostBoardOptions {
  definition: BoardDefinition;
  platform: Platform;
  storage: Storage;
  /** Flash files (the readings journal); without them it lives in RAM. */
  files?: Files;
  terminal: SerialConsole;
  random?: () => number;
  /** What "restart" does on the host (the runner restarts the app). */
  onRestart?: () => void;
  /** Deep sleep on the host: the runner ends this firmware and boots a new one after `ms`, with only its storage. Absent: the board cannot sleep. */
  onSleep?: (ms: number) => void;
  /** Why this boot happened (default "power-on"). */
  wake?: WakeReason;
}

export interface HostBoard extends Board {
  readonly network: SimulatedNetwork;
  readonly sensors: SimulatedSensor[];
  /** Last value the status LED was set to. */
  ledOn: boolean;
}

export function createHostBoard(o: HostBoardOptions): HostBoard {
  const network = new SimulatedNetwork(o.platform);
  const board: HostBoard = {
    definition: o.definition,
    platform: network.gate(o.platform),
    network,
    clock: new SystemClock(),
    storage: o.storage,
    files: o.files,
    terminal: o.terminal,
    sensors: createSimulatedSensors(o.definition, o.random),
    ledOn: false,
    led(on: boolean) {
      board.ledOn = on;
    },
    restart() {
      o.onRestart?.();
    },
    wake: o.wake ?? "power-on",
  };
  const onSleep = o.onSleep;
  if (onSleep) (board as { sleep?: (ms: number) => void }).sleep = (ms) => onSleep(ms);
  return board;
}
