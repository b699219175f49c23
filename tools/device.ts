/**
 * `npm run build:device -- <target> [key=value ...]` and `npm run flash -- <target> [key=value ...]`:
 * builds the firmware with the Moddable SDK the user installed (`$MODDABLE`), compiling the
 * TypeScript first when dist/ is stale.
 *
 *   build <target>   mcconfig -m -p <target> -t build        (compile only; nothing is flashed)
 *   flash <target>   mcconfig -d -m -p <target>              (debug build, flash, start xsbug)
 *   flash --release <target>  mcconfig -m -p <target>        (release build, flash; serial console on)
 *
 * <target> is a Moddable platform such as esp32/nodemcu, esp32/esp32s3, esp32/esp32c3,
 * esp32/m5stack_core2, or `host` (also `lin`, `mac`, `win`, `sim`) for the desktop
 * simulator with the simulated host board. `key=value` arguments override manifest.json
 * "config" (ssid=… password=… brokers=mqtt://…). This tool never builds the SDK itself.
 *
 * Exit codes: mcconfig's; 1 when the environment is not ready (no $MODDABLE, no mcconfig,
 * TypeScript errors); 2 for a wrong command line.
 */
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const MODDABLE_MISSING = "MODDABLE is not set: install the Moddable SDK (npx xs-dev setup --device esp32) and export MODDABLE";

const USAGE = `usage: npm run build:device -- <target> [key=value ...]
       npm run flash -- [--release] <target> [key=value ...]

targets: esp32/nodemcu (or esp32), esp32/esp32s3, esp32/esp32c3, esp32/m5stack_core2,
         host (the desktop simulator; also lin, mac, win, sim)
key=value overrides manifest.json "config", e.g. ssid=home password=secret brokers=mqtt://192.168.1.5:1883
ca=<file> builds in the CA certificate (PEM or DER) that signed an mqtts:// broker's certificate

flash makes a debug build and starts xsbug, which then owns the serial port (no console
input); flash --release makes a release build whose serial console takes provisioning.`;

/** Where mcconfig runs: the repository root, which holds manifest.json. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const SIMULATOR_ALIASES = new Set(["host", "sim", "simulator", "lin", "mac", "win"]);

/** The Moddable name of the platform this machine builds the simulator for. */
export function hostPlatform(platform: NodeJS.Platform = process.platform): "lin" | "mac" | "win" {
  return platform === "darwin" ? "mac" : platform === "win32" ? "win" : "lin";
}

export interface Plan {
  /** Arguments for mcconfig. */
  args: string[];
  /** The Moddable platform built for (`-p`). */
  platform: string;
  /** The simulator (no hardware involved). */
  simulator: boolean;
  /** `ca=<file>`: the broker's CA certificate (PEM or DER) to build in for mqtts:// (not an mcconfig setting). */
  ca?: string;
}

/** Thrown for a wrong command line (exit 2). */
export class UsageError extends Error {}

/** The mcconfig arguments for `device.js <action> ...args`; throws UsageError. */
export function plan(action: string, args: string[], platform: NodeJS.Platform = process.platform): Plan {
  if (action !== "build" && action !== "flash") throw new UsageError(`unknown action "${action}" (build or flash)`);
  let release = false;
  const rest: string[] = [];
  let ca: string | undefined;
  for (const a of args) {
    if (a.startsWith("ca=")) {
      if (a.length === 3) throw new UsageError("ca= needs a certificate file (PEM or DER)");
      ca = a.slice(3);
    } else if (a === "--release") release = true;
    else if (a === "-h" || a === "--help") throw new UsageError("");
    else if (a.startsWith("-")) throw new UsageError(`unknown option ${a} (mcconfig options are chosen by this tool; settings go as key=value)`);
    else rest.push(a);
  }
  const target = rest.shift();
  if (target === undefined || target.includes("=")) throw new UsageError("missing target");
  if (!/^[a-z0-9_]+(\/[a-z0-9_]+)?$/.test(target)) throw new UsageError(`"${target}" is not a Moddable platform name (like esp32/nodemcu)`);
  for (const kv of rest) if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(kv)) throw new UsageError(`"${kv}" is not a key=value setting`);
  if (release && action !== "flash") throw new UsageError("--release applies to flash only (build is always a release build)");

  const simulator = SIMULATOR_ALIASES.has(target);
  const p = simulator ? hostPlatform(platform) : target;
  const withCa = (plan: Plan): Plan => (ca === undefined ? plan : { ...plan, ca });
  if (action === "build") return withCa({ args: ["-m", "-p", p, "-t", "build", ...rest], platform: p, simulator });
  if (release) return withCa({ args: ["-m", "-p", p, ...rest], platform: p, simulator });
  // xsbug owns the serial port in a debug build: keep the firmware off it (the user may override)
  return withCa({ args: ["-d", "-m", "-p", p, ...(simulator ? [] : ["serialInput=0"]), ...rest], platform: p, simulator });
}

/** Where the build takes the CA certificate from (the manifest's "data": the resource `xsmqtt-ca.der`). */
export function caPath(root = ROOT): string {
  return path.join(root, "src/platform/moddable/ca/xsmqtt-ca.der");
}

/**
 * The DER bytes of a certificate file: DER as it is, PEM decoded (the first CERTIFICATE
 * block; the TLS stack takes one CA). Throws a readable Error for anything else.
 */
export function certificateDer(file: Uint8Array, name = "the CA file"): Buffer {
  const bytes = Buffer.from(file);
  if (bytes.length > 4 && bytes[0] === 0x30 && bytes[1] === 0x82) return bytes; // a DER SEQUENCE
  const text = bytes.toString("latin1");
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(text);
  if (!m) throw new Error(`${name} is neither a PEM certificate (-----BEGIN CERTIFICATE-----) nor DER`);
  const der = Buffer.from(m[1].replace(/\s+/g, ""), "base64");
  if (der.length < 4 || der[0] !== 0x30) throw new Error(`${name}: its PEM block does not hold a DER certificate`);
  return der;
}

/** Writes the plan's CA into the build as DER, or removes one left by an earlier build. */
export function installCa(ca: string | undefined, root = ROOT): void {
  const target = caPath(root);
  if (ca === undefined) return rmSync(target, { force: true });
  writeFileSync(target, certificateDer(readFileSync(ca), ca));
}

/** Newest modification time of the files under `dir` whose names end with `suffix`. */
function newest(dir: string, suffix: string, skip: (name: string) => boolean = () => false): number {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) t = Math.max(t, newest(p, suffix, skip));
    else if (entry.name.endsWith(suffix) && !skip(entry.name)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/**
 * True when a TypeScript source the firmware uses (src/, boards/, typings/, the tsconfig)
 * is newer than dist/, or a compiled board or entry module is missing.
 */
export function distIsStale(root = ROOT): boolean {
  const entry = path.join(root, "dist/src/platform/moddable/main.js");
  if (!existsSync(entry) || !existsSync(path.join(root, "dist/boards"))) return true;
  const sources = Math.max(
    newest(path.join(root, "src"), ".ts"),
    newest(path.join(root, "boards"), ".ts"),
    newest(path.join(root, "typings"), ".d.ts"),
    statSync(path.join(root, "tsconfig.json")).mtimeMs,
  );
  const outputs = Math.min(newest(path.join(root, "dist/src"), ".js"), newest(path.join(root, "dist/boards"), ".js"));
  return sources > outputs;
}

function run(command: string, args: string[], options: SpawnSyncOptions): number {
  const r = spawnSync(command, args, { stdio: "inherit", ...options });
  if (r.error) {
    process.stderr.write(`cannot run ${command}: ${r.error.message}\n`);
    return 1;
  }
  return r.status ?? 1;
}

export function main(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  const [action = "", ...args] = argv;
  let p: Plan;
  try {
    p = plan(action, args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) process.stderr.write(`device: ${e.message}\n`);
    process.stderr.write(`${USAGE}\n`);
    return e.message ? 2 : 0;
  }

  const moddable = env.MODDABLE;
  if (!moddable) {
    process.stderr.write(`${MODDABLE_MISSING}\n`);
    return 1;
  }
  const bin = path.join(moddable, "build", "bin", hostPlatform(), "release");
  const mcconfig = path.join(bin, process.platform === "win32" ? "mcconfig.exe" : "mcconfig");
  if (!existsSync(mcconfig)) {
    process.stderr.write(`no mcconfig at ${mcconfig}: build the Moddable tools first (npx xs-dev setup, or Moddable's Getting Started)\n`);
    return 1;
  }
  if (p.platform.split("/")[0] === "esp32" && !env.IDF_PATH) {
    process.stderr.write("warning: IDF_PATH is not set: ESP32 builds need ESP-IDF (npx xs-dev setup --device esp32, then source its export.sh)\n");
  }

  if (distIsStale()) {
    process.stderr.write("# tsc -p . (dist/ is older than the sources)\n");
    const tsc = path.join(ROOT, "node_modules", ".bin", process.platform === "win32" ? "tsc.cmd" : "tsc");
    const status = run(tsc, ["-p", "."], { cwd: ROOT, shell: process.platform === "win32" });
    if (status !== 0) return 1;
  }

  try {
    installCa(p.ca);
  } catch (e) {
    process.stderr.write(`device: ${(e as Error).message}\n`);
    return 1;
  }
  if (p.ca !== undefined) process.stderr.write(`# ca=${p.ca}: built in as ${path.relative(ROOT, caPath())}\n`);

  process.stderr.write(`# mcconfig ${p.args.map((a) => a.replace(/^((?:mqtt)?password=).+$/i, "$1****")).join(" ")}\n`);
  const PATH = [bin, env.PATH ?? ""].join(path.delimiter);
  return run(mcconfig, p.args, { cwd: ROOT, env: { ...env, PATH } });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
