/**
 * Mocha root hooks (`.mocharc.json` "require"): after the last suite, the run must let the
 * process end by itself, every socket, server, child process and timer a test made being
 * closed. If anything still holds it after a grace period, say what (Node's resource names,
 * and for sockets, servers and child processes the ports or pids), and end the process with
 * the run's own status: a leak is named, never a CI run that does not end.
 */
import type { ChildProcess } from "node:child_process";
import type { Server, Socket } from "node:net";

const GRACE_MS = 10_000;

function describe(h: unknown): string {
  const name = (h as object)?.constructor?.name ?? typeof h;
  if (name === "Socket" || name === "TLSSocket") {
    const s = h as Socket;
    if (s.remotePort !== undefined) return `${name} ${s.localAddress}:${s.localPort} -> ${s.remoteAddress}:${s.remotePort}`;
    return `${name} (fd ${(s as unknown as { _handle?: { fd?: number } })._handle?.fd ?? "?"})`;
  }
  if (name === "Server") {
    const a = (h as Server).address();
    return `Server ${a && typeof a === "object" ? `${a.address}:${a.port}` : String(a)}`;
  }
  if (name === "ChildProcess") {
    const c = h as ChildProcess;
    return `ChildProcess pid ${c.pid} (${c.spawnfile} ${c.spawnargs.slice(1, 3).join(" ")})`;
  }
  return name;
}

export const mochaHooks = {
  afterAll(): void {
    setTimeout(() => {
      const all = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
      // (not the process's own stdio)
      const handles = all.filter((h) => h !== process.stdout && h !== process.stderr && h !== process.stdin);
      process.stderr.write(
        `\nhost-test: the process is still held ${GRACE_MS / 1000} s after the last test: ${JSON.stringify(process.getActiveResourcesInfo())}\n` +
          handles.map((h) => `  ${describe(h)}\n`).join("") +
          "host-test: ending it with the run's status\n",
      );
      process.exit();
    }, GRACE_MS).unref();
  },
};
