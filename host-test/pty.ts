/**
 * Pseudo-terminal pairs for the serial tests: socat joins two ptys back to back, each
 * reachable through a symbolic link, so one process can play the device on one end and
 * another the host tool on the other, as over a USB serial cable.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";

/** Where socat is, or null. */
export function socatPath(): string | null {
  const r = spawnSync("sh", ["-c", "command -v socat"], { encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

/**
 * In a suite's `before`: skips the suite when socat is absent, except under CI (CI set),
 * where a missing socat fails the run instead.
 */
export function requireSocat(ctx: Mocha.Context): void {
  if (socatPath()) return;
  if (process.env.CI) throw new Error("socat is not installed (apt-get install socat); CI must run these tests");
  ctx.skip();
}

export interface PtyPair {
  /** The link to one end. */
  readonly a: string;
  /** The link to the other end. */
  readonly b: string;
  readonly process: ChildProcess;
  /** Ends socat (SIGTERM, so that it removes both links) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `socat pty,raw,echo=0,link=a pty,raw,echo=0,link=b` and resolves once socat is
 * passing data and both links exist. Rejects if socat exits first or is not ready in
 * `timeoutMs`; stale links from a killed socat are removed first.
 */
export async function startPtyPair(a: string, b: string, timeoutMs = 5000): Promise<PtyPair> {
  for (const link of [a, b]) fs.rmSync(link, { force: true });
  const child = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  let failed: Error | null = null;
  child.once("error", (e) => (failed = e));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (log += d));
  const exited = new Promise<void>((r) => child.once("close", () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(t);
  };
  const deadline = Date.now() + timeoutMs;
  // socat logs "starting data transfer loop" once both ptys are made and linked
  while (!(log.includes("starting data transfer loop") && fs.existsSync(a) && fs.existsSync(b))) {
    if (failed) throw new Error(`cannot run socat: ${(failed as Error).message}`);
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`socat exited at start: ${log}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`socat did not make ${a} and ${b} in ${timeoutMs} ms: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { a, b, process: child, stop };
}
