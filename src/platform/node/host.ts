/**
 * Runs the firmware on the simulated host board under Node: settings in a JSON file, the
 * serial console on stdout/stdin or on a real (or pseudo-terminal) serial port.
 */
import fs from "node:fs";
import path from "node:path";
import type { SerialConsole } from "../../app/board.js";
import { startApp, type App } from "../../app/app.js";
import type { BuildConfig } from "../../app/config.js";
import hostDefinition from "../../../boards/host.js";
import { createHostBoard, MemoryStorage, type HostBoard } from "../host/board.js";
import { nodePlatform } from "./index.js";

/** Settings in a JSON file, written on every change (what `preference` is on a device). */
export class FileStorage extends MemoryStorage {
  constructor(private file: string) {
    super(readSettings(file));
  }
  override set(key: string, value: string): void {
    super.set(key, value);
    this.save();
  }
  override delete(key: string): void {
    super.delete(key);
    this.save();
  }
  private save(): void {
    const values: { [key: string]: string } = {};
    for (const k of this.keys()) values[k] = this.get(k)!;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.writeFileSync(this.file, JSON.stringify(values, null, 2) + "\n");
  }
}

/** The settings saved in `file`; none when it is missing or not a JSON object. */
function readSettings(file: string): { [key: string]: string } {
  try {
    const v: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as { [key: string]: string }) : {};
  } catch {
    return {};
  }
}

/** A console whose output goes to `write` and whose input lines are pushed with `input`. */
export class LineConsole implements SerialConsole {
  private handler: ((line: string) => void) | null = null;
  constructor(private out: (line: string) => void) {}
  write(line: string): void {
    this.out(line);
  }
  /** Sets the one reader of input lines (a restarted app replaces the old one). */
  onLine(handler: (line: string) => void): void {
    this.handler = handler;
  }
  input(line: string): void {
    this.handler?.(line);
  }
}

/** The console on a serial port (a board's USB UART, or one end of a socat pty pair). */
export async function serialConsole(portPath: string, baudRate = 115200): Promise<LineConsole & { close(): Promise<void> }> {
  const { SerialPort } = await import("serialport");
  const port = new SerialPort({ path: portPath, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  const lines = new LineConsole((line) => port.write(line + "\r\n")) as LineConsole & { close(): Promise<void> };
  let pending = "";
  port.on("data", (d: Buffer) => {
    pending += d.toString("utf8");
    let nl: number;
    while ((nl = pending.search(/\r?\n|\r/)) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + (pending[nl] === "\r" && pending[nl + 1] === "\n" ? 2 : 1));
      lines.input(line);
    }
  });
  port.on("error", () => undefined);
  lines.close = () => new Promise<void>((r) => (port.isOpen ? port.close(() => r()) : r()));
  return lines;
}

export interface HostRunOptions {
  config: BuildConfig;
  /** Settings file; in memory when absent. */
  storageFile?: string;
  /** Initial settings for in-memory storage. */
  settings?: Record<string, string>;
  terminal: SerialConsole;
  random?: () => number;
}

export interface HostRun {
  app: App;
  board: HostBoard;
  stop(): void;
}

/** Starts the firmware on the host board; `restart` from a command or the console restarts it in place. */
export function runHostApp(o: HostRunOptions): HostRun {
  const storage = o.storageFile ? new FileStorage(o.storageFile) : new MemoryStorage(o.settings);
  const run: HostRun = {} as HostRun;
  const boot = () => {
    run.board = createHostBoard({
      definition: hostDefinition,
      platform: nodePlatform(),
      storage,
      terminal: o.terminal,
      random: o.random,
      onRestart: () => {
        run.app.stop();
        setTimeout(boot, 100);
      },
    });
    run.app = startApp(run.board, o.config);
  };
  boot();
  run.stop = () => run.app.stop();
  return run;
}
