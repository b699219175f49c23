/**
 * `xsmqtt monitor`: the device's serial console on standard output, each line stamped
 * with the local time it began to arrive, surviving resets and unplugs: when the port
 * goes away the monitor waits for its path to come back and reopens it.
 *
 * Also the serial helpers `provision` shares: {@link openPort} and {@link LineSplitter}.
 */
import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { SerialPort } from "serialport";
import { parseOptions, UsageError, type CommandIo } from "./command.js";

/** Printed by `xsmqtt help monitor`. */
export const usage = `usage: xsmqtt monitor --port PATH [--baud N] [--raw] [--no-timestamp] [--wait]

Shows what the device writes on its serial console (its log lines start with "# "),
one line per line, each after the local time its first byte arrived (HH:MM:SS.mmm).
CR, LF and CRLF all end a line.

When the port goes away (USB unplugged, a board that re-enumerates on reset, the far
end of a pty pair closed) it says "port closed, waiting…" on standard error, watches
for PATH to exist again (every 250 ms) and reopens it. Ctrl-C ends it with status 0.

options:
  -p, --port PATH   the serial port: /dev/ttyUSB0, /dev/ttyACM0, /dev/cu.usbserial-…
  -b, --baud N      bits per second (default 115200)
  --raw             pass the bytes through as they come: no line handling and no
                    timestamps (the bytes are shown as UTF-8; invalid sequences as �)
  --no-timestamp    lines without the time
  --wait            if PATH cannot be opened yet, wait for it instead of failing

Exit status: 0 after Ctrl-C, 1 if the port cannot be opened at start (without --wait),
2 wrong command line.

examples:
  xsmqtt monitor --port /dev/ttyUSB0
    14:03:07.412 # xsmqtt 0.1.0 on esp32: device esp32-01, sampling every 10000 ms
    14:03:07.655 # network connected: home
  xsmqtt monitor --port /dev/ttyACM0 --baud 921600 --wait --raw
`;

const POLL_MS = 250;

/** `HH:MM:SS.mmm` in local time. */
export function timestamp(d: Date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** The `--baud` value: a positive whole number, or a {@link UsageError}. */
export function parseBaud(text: string | undefined): number {
  if (text === undefined) return 115200;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !(n > 0)) throw new UsageError(`--baud must be a positive whole number, not "${text}"`);
  return n;
}

/** Opens `path` at `baudRate`; rejects with serialport's error (ENOENT, EACCES, EBUSY…). */
export async function openPort(path: string, baudRate: number): Promise<SerialPort> {
  // loaded here so that `xsmqtt help` never loads the native binding
  const { SerialPort } = await import("serialport");
  const port = new SerialPort({ path, baudRate, autoOpen: false });
  // errors after opening (a read failing as the device vanishes) come before "close"
  port.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  return port;
}

/** An error's message without the "Error: " that serialport's native binding puts first. */
export function reason(e: unknown): string {
  return String((e as Error)?.message ?? e).replace(/^Error: /, "");
}

/** Closes `port` if it is open; never rejects. */
export function closePort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
}

/**
 * Cuts decoded text into lines at CR, LF or CRLF, also when a CRLF is split between two
 * chunks, and remembers when each line's first character came.
 */
export class LineSplitter {
  private partial = "";
  private startedAt = 0;
  private afterCR = false;

  /** The lines `text` completes, each with the time its first character arrived. */
  push(text: string, now: number): { line: string; at: number }[] {
    const lines: { line: string; at: number }[] = [];
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === "\n" && this.afterCR) {
        this.afterCR = false;
        continue;
      }
      this.afterCR = c === "\r";
      if (c === "\r" || c === "\n") {
        lines.push({ line: this.partial, at: this.partial === "" ? now : this.startedAt });
        this.partial = "";
        continue;
      }
      // a run of ordinary characters goes in at once
      let j = i + 1;
      while (j < text.length && text[j] !== "\r" && text[j] !== "\n") j++;
      if (this.partial === "") this.startedAt = now;
      this.partial += text.slice(i, j);
      i = j - 1;
    }
    return lines;
  }

  /** The unfinished line, if any (when the port closes), and a fresh start. */
  flush(): { line: string; at: number } | null {
    const rest = this.partial === "" ? null : { line: this.partial, at: this.startedAt };
    this.partial = "";
    this.afterCR = false;
    return rest;
  }
}

interface Options {
  path: string;
  baud: number;
  raw: boolean;
  timestamps: boolean;
  wait: boolean;
}

/** Resolves when `port` closes (or fails), or when `signal` aborts. */
function closedOrAborted(port: SerialPort, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      port.off("close", done);
      port.off("error", failed);
      signal.removeEventListener("abort", done);
      resolve();
    };
    // an error that left the port open (a failed write) is not a vanished device
    const failed = () => void (!port.isOpen && done());
    port.on("close", done);
    port.on("error", failed);
    signal.addEventListener("abort", done);
    if (!port.isOpen || signal.aborted) done();
  });
}

/** Waits for `path` to exist and open; null once `signal` aborts. Says why opening fails, once per reason. */
async function reopen(o: Options, io: CommandIo, signal: AbortSignal): Promise<SerialPort | null> {
  let lastError = "";
  while (!signal.aborted) {
    await sleep(POLL_MS, undefined, { signal }).catch(() => undefined);
    if (signal.aborted || !fs.existsSync(o.path)) continue;
    try {
      return await openPort(o.path, o.baud);
    } catch (e) {
      const message = reason(e);
      if (message !== lastError) io.err(`cannot open ${o.path} yet: ${message}\n`);
      lastError = message;
    }
  }
  return null;
}

/** Copies what arrives on `port` to `io.out` until it closes or `signal` aborts. */
async function show(port: SerialPort, o: Options, io: CommandIo, signal: AbortSignal): Promise<void> {
  const decoder = new TextDecoder("utf-8");
  const lines = new LineSplitter();
  const print = ({ line, at }: { line: string; at: number }) => io.out(o.timestamps ? `${timestamp(new Date(at))} ${line}\n` : `${line}\n`);
  const onData = (chunk: Buffer) => {
    const text = decoder.decode(chunk, { stream: true });
    if (o.raw) io.out(text);
    else lines.push(text, Date.now()).forEach(print);
  };
  port.on("data", onData);
  // a device node that disappears (USB unplugged, pty pair gone) may not surface as a read
  // error at once; its path going away is as good a sign, so watch that too
  const watch = setInterval(() => {
    if (!fs.existsSync(o.path)) port.close(() => undefined);
  }, POLL_MS);
  try {
    await closedOrAborted(port, signal);
  } finally {
    clearInterval(watch);
  }
  port.off("data", onData);
  const tail = decoder.decode();
  if (o.raw) {
    if (tail) io.out(tail);
    return;
  }
  lines.push(tail, Date.now()).forEach(print);
  const rest = lines.flush();
  if (rest) print(rest);
}

/**
 * The monitor loop: shows the port, and each time it closes waits for it and shows it
 * again, until `signal` aborts; resolves to the exit status.
 */
export async function monitor(o: Options, io: CommandIo, signal: AbortSignal): Promise<number> {
  let port: SerialPort | null;
  try {
    port = await openPort(o.path, o.baud);
  } catch (e) {
    if (!o.wait) {
      io.err(`xsmqtt monitor: cannot open ${o.path}: ${reason(e)} (give --wait to wait for it)\n`);
      return 1;
    }
    io.err(`waiting for ${o.path}…\n`);
    port = await reopen(o, io, signal);
  }
  if (port) io.err(`monitoring ${o.path} at ${o.baud} baud (Ctrl-C to stop)\n`);
  while (port) {
    await show(port, o, io, signal);
    if (signal.aborted) {
      await closePort(port);
      break;
    }
    io.err("port closed, waiting…\n");
    port = await reopen(o, io, signal);
    if (port) io.err(`port reopened: ${o.path}\n`);
  }
  return 0;
}

/** Runs the monitor until SIGINT or SIGTERM; resolves to the exit status. Throws {@link UsageError}. */
export async function run(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    port: { type: "string", short: "p" },
    baud: { type: "string", short: "b" },
    raw: { type: "boolean" },
    "no-timestamp": { type: "boolean" },
    wait: { type: "boolean" },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (the port is given with --port)`);
  if (!values.port) throw new UsageError("--port PATH is required");
  const o: Options = {
    path: values.port,
    baud: parseBaud(values.baud),
    raw: !!values.raw,
    timestamps: !values.raw && !values["no-timestamp"],
    wait: !!values.wait,
  };
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await monitor(o, io, stop.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
