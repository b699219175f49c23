/**
 * Brokers on free loopback ports, started and stopped by their user (the tests, `npm
 * start`, the soak tool, the benchmarks): aedes in this process, mosquitto (Debian's
 * package) as its own process.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface Broker {
  port: number;
  host: string;
  close(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface AedesBroker extends Broker {
  aedes: any;
}

/** aedes 1.x in process. `authenticate` may refuse clients (CONNACK codes). */
export async function startAedes(options: { authenticate?: (client: any, username: string, password: Buffer, done: (err: any, ok: boolean) => void) => void } = {}): Promise<AedesBroker> {
  const { Aedes } = (await import("aedes")) as any;
  const aedes = await Aedes.createBroker();
  if (options.authenticate) aedes.authenticate = options.authenticate;
  const server = net.createServer(aedes.handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as net.AddressInfo;
  const sockets = new Set<net.Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return {
    port,
    host: "127.0.0.1",
    aedes,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}

/** Where Debian installs mosquitto, or null. */
export function mosquittoPath(): string | null {
  for (const p of ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]) if (fs.existsSync(p)) return p;
  const r = spawnSync("sh", ["-c", "command -v mosquitto"], { encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

export interface MosquittoOptions {
  /** Extra configuration lines for the listener (TLS settings, etc.). */
  listener?: string[];
  /** Other configuration lines. */
  config?: string[];
  /** Keep sessions on disk across restarts (persistence true). */
  persistence?: boolean;
  /** Reuse a directory (for restarts with persistence). */
  dir?: string;
  port?: number;
}

export interface Mosquitto extends Broker {
  dir: string;
  process: ChildProcess;
  /** Kills the process (SIGKILL, no goodbye) and waits for it to exit. */
  kill(): Promise<void>;
}

/** Starts mosquitto with a generated configuration on a free loopback port; resolves once it listens. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const bin = mosquittoPath();
  if (!bin) throw new Error("mosquitto is not installed");
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-mosquitto-"));
  // mosquitto started as root drops to its own user: it must be able to write here
  fs.chmodSync(dir, 0o777);
  const port = options.port ?? (await freePort());
  const conf = path.join(dir, "mosquitto.conf");
  const lines = [
    `listener ${port} 127.0.0.1`,
    "allow_anonymous true",
    ...(options.listener ?? []),
    `persistence ${options.persistence ? "true" : "false"}`,
    `persistence_location ${dir}/`,
    "autosave_interval 1",
    "log_type error",
    "log_type warning",
    "log_type notice",
    "log_dest stderr",
    ...(options.config ?? []),
  ];
  fs.writeFileSync(conf, lines.join("\n") + "\n");
  const child = spawn(bin, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const deadline = Date.now() + 10000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited at start: ${log}`);
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => (s.destroy(), r(true)));
      s.on("error", () => r(false));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`mosquitto did not listen on ${port}: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    host: "127.0.0.1",
    dir,
    process: child,
    async kill() {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
    async close() {
      if (child.exitCode === null) child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
      if (!options.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
