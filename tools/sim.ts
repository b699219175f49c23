/**
 * `npm run sim -- [path/to/mc.so]`: runs the firmware's desktop simulator build (`npm run
 * build:device -- host`) in Moddable's mcsim, and stands in for the battery: when the
 * firmware goes into deep sleep (the line `# deep sleep <ms> ms`, see
 * src/platform/moddable/deep-sleep-sim.ts) the simulator is ended, as a real deep sleep
 * ends everything in RAM, and started again `<ms>` later with only its files and
 * preferences. Under Linux without a display it runs under xvfb-run. Ctrl-C stops it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SLEEP_LINE = /^# deep sleep (\d+) ms$/;

export interface SimRun {
  /** Every line the simulator printed, across wakes. */
  readonly lines: string[];
  /** Wakes begun (1 for the first start). */
  readonly wakes: number;
  stop(): Promise<void>;
}

export interface SimOptions {
  /** The simulator (default $MODDABLE/build/bin/<host>/release/mcsim). */
  mcsim?: string;
  env?: NodeJS.ProcessEnv;
  onLine?: (line: string) => void;
  /** A wake ended in deep sleep for `ms`. */
  onSleep?: (ms: number) => void;
}

/** Starts `so` in mcsim and restarts it after each deep sleep. */
export function runSimulator(so: string, options: SimOptions = {}): SimRun {
  const env = options.env ?? process.env;
  const mcsim = options.mcsim ?? path.join(env.MODDABLE ?? "", "build/bin", process.platform === "darwin" ? "mac" : "lin", "release/mcsim");
  const lines: string[] = [];
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let stopped = false;
  let restart: NodeJS.Timeout | undefined;
  let wakes = 0;
  const end = async () => {
    const c = child;
    child = null;
    if (c && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(-c.pid!, "SIGKILL"); // its whole group: xvfb-run, Xvfb and mcsim
      } catch {
        // gone
      }
    }
    await exited;
  };
  const start = () => {
    wakes++;
    const headless = process.platform === "linux" && !env.DISPLAY;
    const c = headless ? spawn("xvfb-run", ["-a", "stdbuf", "-oL", mcsim, so], { stdio: ["ignore", "pipe", "pipe"], detached: true, env }) : spawn(mcsim, [so], { stdio: ["ignore", "pipe", "pipe"], detached: true, env });
    child = c;
    exited = new Promise((r) => c.once("exit", () => r()));
    let partial = "";
    const take = (d: Buffer) => {
      partial += String(d);
      const parts = partial.split("\n");
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        options.onLine?.(line);
        const m = SLEEP_LINE.exec(line.trim());
        if (m && child === c) {
          const ms = Number(m[1]);
          options.onSleep?.(ms);
          void end().then(() => {
            if (!stopped) restart = setTimeout(start, ms);
          });
        }
      }
    };
    c.stdout!.on("data", take);
    c.stderr!.on("data", take);
  };
  start();
  return {
    lines,
    get wakes() {
      return wakes;
    },
    async stop() {
      stopped = true;
      clearTimeout(restart);
      await end();
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const so = process.argv[2] ?? path.join(process.env.MODDABLE ?? "", "build/bin/lin/mc/release/xsmqtt/mc.so");
  if (!process.env.MODDABLE && !process.argv[2]) {
    process.stderr.write("MODDABLE is not set: install the Moddable SDK and export MODDABLE (or give the path of mc.so)\n");
    process.exit(1);
  }
  const sim = runSimulator(so, {
    onLine: (line) => process.stdout.write(`${line}\n`),
    onSleep: (ms) => process.stdout.write(`# sim: the simulator ends for ${ms} ms of deep sleep, then starts again\n`),
  });
  process.on("SIGINT", () => void sim.stop().then(() => process.exit(0)));
}
