/**
 * The Moddable build, checked without the Moddable SDK (CI has none): manifest.json's shape;
 * that every module it maps exists in dist/; that every import of every module reachable
 * from the entry resolves, by XS's rules (relative specifiers against the importer's
 * module name, `.js` stripped), to a mapped module or to an SDK module the platform has;
 * that the manifests map and preload nothing the entry does not import (no tool-only code,
 * such as the packet inspector, in the firmware); the board files; tools/device.js without $MODDABLE; the device type-check with no Node
 * types. The last suite, opt-in (XSMQTT_MODDABLE_E2E=1 with $MODDABLE set), builds the
 * firmware for the desktop simulator and runs it headless against a broker.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BoardDefinition } from "../src/app/board.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

type Modules = Record<string, string | string[]>;
interface PlatformEntry {
  include?: string | string[];
  modules?: Modules;
  preload?: string | string[];
  config?: Record<string, unknown>;
  error?: string;
}
interface Manifest extends PlatformEntry {
  build?: Record<string, string>;
  creation?: { main?: string };
  platforms?: Record<string, PlatformEntry>;
}

const manifest = JSON.parse(readFileSync(path.join(root, "manifest.json"), "utf8")) as Manifest;

/** The targets we build for and the board file each selects. */
const DEVICE_TARGETS: Record<string, string> = {
  "esp32/nodemcu": "esp32-nodemcu",
  "esp32/esp32s3": "esp32-esp32s3",
  "esp32/esp32c3": "esp32-esp32c3",
  "esp32/m5stack_core2": "esp32-m5stack_core2",
  esp32: "esp32-nodemcu",
};
const SIMULATORS = ["lin", "mac", "win"];

/** SDK modules the device code may import, by platform family (the SDK's manifests provide them). */
const SDK_COMMON = ["mc/config", "timer", "time", "net", "wifi", "sntp", "preference", "embedded:io/socket/tcp", "embedded:io/serial"];
const SDK_ESP32 = [
  ...SDK_COMMON,
  "embedded:io/i2c",
  "embedded:io/smbus",
  "embedded:io/digital",
  "embedded:sensor/Humidity-Temperature/SHT3x",
  "embedded:sensor/Humidity-Temperature/AHT10",
  "embedded:sensor/Barometer-Temperature/BMP280",
  "embedded:sensor/Temperature/TMP102",
];

/** Modules an SDK manifest provides when our manifests include it (checked against the SDK in the simulator build). */
const SDK_MANIFEST_PROVIDES: Record<string, string[]> = {
  "$(MODDABLE)/modules/io/files/manifest.json": ["embedded:storage/files"],
};

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** A manifest path to a file path, for the paths that live in this repository. */
function local(p: string, dir: string): string | null {
  if (p.startsWith("$(XSMQTT)/")) return path.join(root, p.slice("$(XSMQTT)/".length));
  if (p.startsWith("./") || p.startsWith("../")) return path.resolve(dir, p);
  return null;
}

/** Everything one platform's build sees from our manifests: modules (name → source) and preloads. */
function platformView(platform: string): { modules: Map<string, string>; unmapped: string[]; preload: string[]; entry: PlatformEntry; sdkIncludes: string[] } {
  const entry = manifest.platforms?.[platform];
  assert.ok(entry, `manifest.json has no "${platform}" platform`);
  const modules = new Map<string, string>();
  const unmapped: string[] = [];
  const preload: string[] = [];
  const sdkIncludes: string[] = [];
  const add = (m: PlatformEntry, dir: string) => {
    for (const inc of list(m.include)) if (inc.startsWith("$(MODDABLE)/")) sdkIncludes.push(inc);
    for (const [name, sources] of Object.entries(m.modules ?? {})) {
      for (const source of list(sources)) {
        const file = local(source, dir);
        if (file === null || name === "~" || name === "*") continue; // SDK files and exclusions
        if (name.endsWith("/*")) {
          assert.ok(source.endsWith("/*"), `wildcard ${name} must map a directory: ${source}`);
          const d = file.slice(0, -2);
          if (!existsSync(d)) {
            unmapped.push(`${name} → ${source}`);
            continue;
          }
          const js = readdirSync(d).filter((f) => f.endsWith(".js"));
          if (js.length === 0) unmapped.push(`${name} → ${source}`);
          for (const f of js) modules.set(name.slice(0, -1) + f.slice(0, -3), path.join(d, f));
        } else if (existsSync(`${file}.js`)) modules.set(name, `${file}.js`);
        else unmapped.push(`${name} → ${source}`);
      }
    }
    preload.push(...list(m.preload));
  };
  add(manifest, root);
  add(entry, root);
  for (const inc of list(entry.include)) {
    const file = local(inc, root);
    if (file === null) continue;
    assert.ok(existsSync(file), `${platform} includes ${inc}, which does not exist`);
    const sub = JSON.parse(readFileSync(file, "utf8")) as PlatformEntry;
    add(sub, path.dirname(file));
  }
  return { modules, unmapped, preload, entry, sdkIncludes };
}

/** XS's resolution of `specifier` imported by the module named `importer` (xsHosts.c fxFindModule). */
function resolveLikeXs(importer: string, specifier: string): string {
  let s = specifier.startsWith("moddable:") ? specifier.slice(9) : specifier;
  s = s.replace(/\.m?js$/, "");
  if (!s.startsWith("./") && !s.startsWith("../")) return s;
  const parts = importer.split("/").slice(0, -1);
  for (const seg of s.split("/")) {
    if (seg === "..") parts.pop();
    else if (seg !== ".") parts.push(seg);
  }
  return parts.join("/");
}

/** The static import and re-export specifiers of compiled JavaScript. */
function importsOf(file: string): string[] {
  const js = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const m of js.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']/gm)) found.push(m[1]);
  for (const m of js.matchAll(/^\s*import\s*["']([^"']+)["']/gm)) found.push(m[1]);
  return found;
}

/** Walks the import graph from the entry and (unless `entryOnly`) the preloads; returns the problems found. */
function checkGraph(platform: string, sdk: string[], entryOnly = false): { problems: string[]; reached: Set<string> } {
  const { modules, preload, sdkIncludes } = platformView(platform);
  sdk = [...sdk, ...sdkIncludes.flatMap((inc) => SDK_MANIFEST_PROVIDES[inc] ?? [])];
  const problems: string[] = [];
  const reached = new Set<string>();
  const main = manifest.creation?.main ?? "main";
  const queue = [main, ...(entryOnly ? [] : preload.filter((p) => p.startsWith("xsmqtt")))];
  for (const p of preload) {
    if (!p.startsWith("xsmqtt")) continue;
    const ok = p.endsWith("/*") ? [...modules.keys()].some((k) => k.startsWith(p.slice(0, -1))) : modules.has(p);
    if (!ok) problems.push(`preload ${p} names no mapped module`);
  }
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (name.endsWith("/*")) {
      for (const k of modules.keys()) if (k.startsWith(name.slice(0, -1)) && !reached.has(k)) queue.push(k);
      continue;
    }
    if (reached.has(name)) continue;
    reached.add(name);
    const file = modules.get(name);
    if (file === undefined) {
      if (!sdk.includes(name)) problems.push(`module "${name}" is neither mapped by us nor provided by the SDK on ${platform}`);
      continue;
    }
    for (const spec of importsOf(file)) {
      if (spec.startsWith("node:")) problems.push(`${name} imports ${spec}: Node modules do not exist on Moddable`);
      const target = resolveLikeXs(name, spec);
      if (!modules.has(target) && !sdk.includes(target)) problems.push(`${name} imports "${spec}", which resolves to "${target}": not in the ${platform} build`);
      queue.push(target);
    }
  }
  return { problems, reached };
}

/** True for compiled JavaScript with nothing at run time (a file of types only): `export {};`. */
function typeOnly(file: string): boolean {
  return readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "").replace(/\s+/g, "") === "export{};";
}

describe("device build (Moddable, without the SDK)", function () {
  this.timeout(60000);

  describe("manifest.json", () => {
    it("has the sections mcconfig needs, in Moddable's format", () => {
      assert.equal(manifest.build?.NAME, "xsmqtt");
      assert.equal(manifest.build?.XSMQTT, "./");
      const includes = list(manifest.include);
      for (const inc of [
        "$(MODDABLE)/examples/manifest_base.json",
        "$(MODDABLE)/examples/manifest_net.json",
        "$(MODDABLE)/modules/io/manifest.json",
        "$(MODDABLE)/modules/network/wifi/manifest.json",
        "$(MODDABLE)/modules/files/preference/manifest.json",
      ])
        assert.ok(includes.includes(inc), `include ${inc}`);
      assert.equal(manifest.creation?.main, "xsmqtt/platform/moddable/main");
      assert.ok(manifest.modules && Object.keys(manifest.modules).length > 0);
      assert.ok(list(manifest.preload).includes("xsmqtt/mqtt/*"));
      for (const key of ["deviceId", "brokers", "prefix", "interval", "ssid", "password", "sntp"]) assert.ok(key in (manifest.config ?? {}), `config.${key}`);
      const keys = Object.keys(manifest.platforms ?? {});
      for (const p of [...Object.keys(DEVICE_TARGETS), "esp32/*", ...SIMULATORS, "..."]) assert.ok(keys.includes(p), `platforms.${p}`);
      // mcconfig uses the first entry that matches: exact sub-platforms must come before "esp32/*"
      for (const t of Object.keys(DEVICE_TARGETS).filter((t) => t.includes("/"))) assert.ok(keys.indexOf(t) < keys.indexOf("esp32/*"), `${t} before esp32/*`);
      assert.ok(manifest.platforms?.["esp32/*"]?.error, "an unknown ESP32 target is an error, not a wrong board");
    });

    it("maps only files that exist in dist/", () => {
      for (const p of [...Object.keys(DEVICE_TARGETS), ...SIMULATORS]) {
        const { unmapped } = platformView(p);
        assert.deepEqual(unmapped, [], `${p}: mapped paths missing from dist/ (run tsc -p .)`);
      }
    });

    for (const target of Object.keys(DEVICE_TARGETS)) {
      it(`${target}: every import reachable from the entry resolves, and the board is ${DEVICE_TARGETS[target]}`, () => {
        const { problems, reached } = checkGraph(target, SDK_ESP32);
        assert.deepEqual(problems, []);
        const { modules } = platformView(target);
        assert.equal(modules.get("xsmqtt-board"), path.join(root, "dist/boards", `${DEVICE_TARGETS[target]}.js`));
        assert.equal(modules.get("xsmqtt/platform/moddable/hardware"), path.join(root, "dist/src/platform/moddable/hardware.js"));
        for (const m of ["xsmqtt/app/app", "xsmqtt/mqtt/client", "xsmqtt-board", "embedded:io/socket/tcp", "embedded:io/i2c"]) assert.ok(reached.has(m), `reaches ${m}`);
      });
    }

    for (const sim of SIMULATORS) {
      it(`${sim}: the simulator build reaches no I2C, GPIO or sensor module`, () => {
        const { problems, reached } = checkGraph(sim, SDK_COMMON);
        assert.deepEqual(problems, []);
        const { modules } = platformView(sim);
        assert.equal(modules.get("xsmqtt-board"), path.join(root, "dist/boards/host.js"));
        assert.equal(modules.get("xsmqtt/platform/moddable/hardware"), path.join(root, "dist/src/platform/moddable/hardware-sim.js"));
        assert.ok(reached.has("xsmqtt/platform/host/sensors"));
        for (const m of reached) assert.ok(!/^embedded:(io\/(i2c|smbus|digital)|sensor\/)/.test(m), `${sim} reaches ${m}`);
      });
    }

    // Everything a manifest maps is compiled into the firmware's flash, and preloads also into
    // its resident heap: the tools' code (the packet inspector, the simulated host board that
    // Node and xsnap run) must stay out of every mapped module set, wildcards included.
    for (const target of [...Object.keys(DEVICE_TARGETS), ...SIMULATORS]) {
      it(`${target}: maps and preloads only modules the entry imports (no tool-only code)`, () => {
        const { problems, reached } = checkGraph(target, target.startsWith("esp32") ? SDK_ESP32 : SDK_COMMON, true);
        assert.deepEqual(problems, []);
        const { modules, preload } = platformView(target);
        const dist = path.join(root, "dist");
        for (const [name, file] of modules) {
          const rel = path.relative(dist, file);
          assert.ok(/^(src|boards)\//.test(rel) && !rel.startsWith("src/platform/node/") && !rel.startsWith("src/platform/xsnap/"), `${name} maps ${rel}, which is not device code`);
        }
        assert.ok(!modules.has("xsmqtt/mqtt/inspect"), "the packet inspector is in the firmware (a stale dist/src/mqtt/inspect.js? it lives in tools/ now)");
        const unused = [...modules.keys()].filter((m) => !reached.has(m) && !typeOnly(modules.get(m)!));
        assert.deepEqual(unused, [], `${target}: mapped, but imported by nothing the entry reaches (delete stale files from dist/, or keep tool-only code out of mapped folders)`);
        for (const p of preload.filter((p) => p.startsWith("xsmqtt"))) {
          const names = p.endsWith("/*") ? [...modules.keys()].filter((k) => k.startsWith(p.slice(0, -1))) : [p];
          for (const n of names) assert.ok(reached.has(n) || typeOnly(modules.get(n)!), `preload ${n} is not imported by the firmware`);
        }
      });
    }

    it("src/mqtt holds no module the firmware leaves unused: the manifest maps it whole", () => {
      const { reached } = checkGraph("esp32/nodemcu", SDK_ESP32, true);
      const sources = readdirSync(path.join(root, "src/mqtt")).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
      assert.ok(sources.includes("client.ts"));
      assert.ok(!sources.includes("inspect.ts"), "the packet inspector belongs to the tools (tools/inspect.ts)");
      for (const f of sources) {
        const name = `xsmqtt/mqtt/${f.slice(0, -3)}`;
        assert.ok(reached.has(name) || typeOnly(path.join(root, "dist/src/mqtt", f.replace(/\.ts$/, ".js"))), `${name} is not imported by the firmware: move it out of src/mqtt`);
      }
    });

    it("leaves out the SDK's TypeScript project files, which its typings wildcard would compile into every build", () => {
      // $(MODDABLE)/examples/manifest_typings.json maps "*" to $(TYPINGS)/*: typings/package.json and
      // typings/tsconfig.es20xx.json would become JSON modules (2.7 KB of bytecode) in the firmware.
      assert.deepEqual(manifest.modules?.["~"], ["$(TYPINGS)/package", "$(TYPINGS)/tsconfig*"]);
    });

    it("brings the SDK's ECMA-419 files where the board keeps its readings journal (ESP32 littlefs, lin/mac posix), and none on win", () => {
      for (const p of [...Object.keys(DEVICE_TARGETS), "lin", "mac"]) {
        const v = platformView(p);
        assert.ok(v.sdkIncludes.includes("$(MODDABLE)/modules/io/files/manifest.json"), `${p} includes the files manifest`);
        assert.match(v.modules.get("xsmqtt/platform/moddable/files") ?? "", /moddable\/files\.js$/, p);
      }
      const win = platformView("win");
      assert.ok(!win.sdkIncludes.includes("$(MODDABLE)/modules/io/files/manifest.json"), "the SDK has no files module for win");
      assert.match(win.modules.get("xsmqtt/platform/moddable/files") ?? "", /files-none\.js$/);
    });

    it("the ESP32 sub-manifest brings the four sensor drivers and keeps the SDK's Wi-Fi setup out", () => {
      const sub = readFileSync(path.join(root, "src/platform/moddable/manifest_esp32.json"), "utf8");
      for (const d of ["sht3x", "aht10", "bmp280", "tmp102"]) assert.ok(sub.includes(`$(MODDABLE)/modules/drivers/sensors/${d}/manifest.json`), d);
      const m = JSON.parse(sub) as PlatformEntry;
      assert.deepEqual(m.modules?.["~"], ["$(BUILD)/devices/esp32/setup/network"]);
      assert.ok(list(m.modules?.["*"]).includes("$(MODULES)/base/console/modConsole"), "the UART console's host function");
    });
  });

  describe("board files", () => {
    const boards = readdirSync(path.join(root, "boards")).filter((f) => f.endsWith(".ts") && f !== "host.ts");
    const hardware = readFileSync(path.join(root, "src/platform/moddable/hardware.ts"), "utf8");
    const drivers = [...hardware.matchAll(/^ {2}(\w+): \{$/gm)].map((m) => m[1]);

    it("the hardware module knows the drivers board files name", () => {
      assert.deepEqual(drivers.sort(), ["aht10", "bmp280", "sht3x", "tmp102"]);
    });

    it("each device board file is selected by a platform entry named after it", () => {
      assert.ok(boards.length >= 4);
      for (const file of boards) {
        const base = file.slice(0, -3);
        const target = base.replace(/^esp32-/, "esp32/");
        assert.ok(base.startsWith("esp32-"), `${file}: device boards are named esp32-<moddable sub-platform>.ts`);
        assert.equal(platformView(target).modules.get("xsmqtt-board"), path.join(root, "dist/boards", `${base}.js`), `platforms["${target}"] selects ${file}`);
      }
    });

    for (const file of boards) {
      it(`${file} exports a usable definition`, async () => {
        const mod = (await import(pathToFileURL(path.join(root, "dist/boards", file.replace(/\.ts$/, ".js"))).href)) as { default: BoardDefinition };
        const b = mod.default;
        assert.equal(b.name, file.slice(0, -3).replace(/^esp32-/, "esp32/"));
        assert.ok(b.i2c, "an I2C bus");
        for (const pin of [b.i2c.sda, b.i2c.scl]) assert.ok(Number.isInteger(pin) && pin >= 0 && pin <= 48, `pin ${pin}`);
        assert.notEqual(b.i2c.sda, b.i2c.scl);
        if (b.led) assert.ok(Number.isInteger(b.led.pin) && b.led.pin !== b.i2c.sda && b.led.pin !== b.i2c.scl);
        assert.ok(b.sensors.length > 0);
        const names = new Set<string>();
        const addresses = new Set<number>();
        for (const s of b.sensors) {
          assert.ok(drivers.includes(s.driver), `driver ${s.driver}`);
          assert.ok(typeof s.address === "number" && s.address >= 0x08 && s.address <= 0x77, `${s.name}: 7-bit address`);
          assert.match(s.name, /^[A-Za-z0-9_-]+$/, "usable in a topic");
          assert.ok(!names.has(s.name) && !addresses.has(s.address), `${s.name}: unique name and address`);
          names.add(s.name);
          addresses.add(s.address);
        }
      });
    }
  });

  describe("device config (mc/config)", () => {
    it("reads command-line strings and manifest values into the app's BuildConfig", async () => {
      const { readDeviceConfig } = (await import(pathToFileURL(path.join(root, "dist/src/platform/moddable/config.js")).href)) as typeof import("../src/platform/moddable/config.js");
      const c = readDeviceConfig({
        brokers: "mqtt://10.0.0.2:1883, mqtt://10.0.0.3",
        interval: "5000",
        qos: 0,
        ssid: "home",
        password: "wifi-secret",
        mqttPassword: "mqtt-secret",
        deviceId: "",
        sntp: "a.example,b.example",
        serialInput: "0",
        outboxBytes: "lots",
      });
      assert.deepEqual(c.build, { brokers: ["mqtt://10.0.0.2:1883", "mqtt://10.0.0.3"], interval: 5000, qos: 0, ssid: "home", wifiPassword: "wifi-secret", password: "mqtt-secret" });
      assert.deepEqual(c.sntp, ["a.example", "b.example"]);
      assert.equal(c.serialInput, false);
      assert.equal(c.warnings.length, 1);
      assert.match(c.warnings[0], /outboxBytes/);
      assert.equal(readDeviceConfig({ brokers: ["mqtt://x"], serialInput: true }).build.brokers?.[0], "mqtt://x");
      assert.equal(readDeviceConfig({}).serialInput, true);
      // the battery mode's and Home Assistant's settings, as mcconfig passes them (sleep=60 on its command line)
      const b = readDeviceConfig({ sleep: "60", awake: "8000", discovery: "ha", outboxBytes: 32768 });
      assert.deepEqual(b.build, { sleep: 60, awake: 8000, discovery: "ha", outboxBytes: 32768 });
      assert.deepEqual(readDeviceConfig({ sleep: "-1" }).warnings.length, 1);
      // the manifest's defaults are the app's own
      const d = readDeviceConfig(manifest.config as Parameters<typeof readDeviceConfig>[0]).build;
      assert.equal(d.sleep, 0);
      assert.equal(d.discovery, "homeassistant");
      assert.equal(d.outboxBytes, 16384);
    });

    it("assembles console lines from bytes in a fixed buffer", async () => {
      const { TraceConsole } = (await import(pathToFileURL(path.join(root, "dist/src/platform/moddable/terminal.js")).href)) as typeof import("../src/platform/moddable/terminal.js");
      const lines: string[] = [];
      const c = new TraceConsole(null, 8);
      c.onLine((l) => lines.push(l));
      const feed = (s: string) => {
        const b = new TextEncoder().encode(s);
        c.receive(b, b.length);
      };
      feed("set a");
      feed(" 1\r\n\nkeys\rgrüß\n");
      assert.deepEqual(lines, ["set a 1", "keys", "grüß"]);
      const g = globalThis as { trace?: (...s: string[]) => void };
      const traced: string[] = [];
      g.trace = (...s) => traced.push(s.join(""));
      try {
        feed("much too long\nok\n");
      } finally {
        delete g.trace;
      }
      assert.deepEqual(lines.slice(3), ["ok"]);
      assert.match(traced[0], /error line longer than 8 bytes/);
    });
  });

  describe("tools/device.js", () => {
    it("exits 1 with the install hint when MODDABLE is not set", () => {
      const env = { ...process.env };
      delete env.MODDABLE;
      const r = spawnSync(process.execPath, ["dist/tools/device.js", "build", "esp32/nodemcu"], { cwd: root, env, encoding: "utf8" });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /MODDABLE is not set: install the Moddable SDK \(npx xs-dev setup --device esp32\) and export MODDABLE/);
    });

    it("maps build and flash to mcconfig's arguments", async () => {
      const { plan, UsageError } = (await import(pathToFileURL(path.join(root, "dist/tools/device.js")).href)) as typeof import("../tools/device.js");
      assert.deepEqual(plan("build", ["esp32/nodemcu", "ssid=a", "password=b"], "linux").args, ["-m", "-p", "esp32/nodemcu", "-t", "build", "ssid=a", "password=b"]);
      assert.deepEqual(plan("flash", ["esp32/esp32s3", "ssid=a"], "linux").args, ["-d", "-m", "-p", "esp32/esp32s3", "serialInput=0", "ssid=a"]);
      assert.deepEqual(plan("flash", ["--release", "esp32/esp32c3"], "linux").args, ["-m", "-p", "esp32/esp32c3"]);
      assert.deepEqual(plan("build", ["host"], "linux"), { args: ["-m", "-p", "lin", "-t", "build"], platform: "lin", simulator: true });
      assert.deepEqual(plan("flash", ["sim"], "darwin").args, ["-d", "-m", "-p", "mac"]);
      for (const bad of [[], ["ssid=a"], ["ESP32"], ["esp32/nodemcu", "-d"], ["esp32/nodemcu", "oops"]]) assert.throws(() => plan("build", bad, "linux"), UsageError, JSON.stringify(bad));
      assert.throws(() => plan("deploy", ["esp32"], "linux"), UsageError);
    });
  });

  describe("device type-check", () => {
    it("tsc -p tsconfig.device.json passes: device code against our typings, no Node types", () => {
      const tsc = path.join(root, "node_modules/.bin/tsc");
      const r = spawnSync(tsc, ["-p", "tsconfig.device.json"], { cwd: root, encoding: "utf8", shell: process.platform === "win32" });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    });

    it("tsconfig.device.json has no Node types and covers the device code", () => {
      const cfg = JSON.parse(readFileSync(path.join(root, "tsconfig.device.json"), "utf8")) as { compilerOptions: Record<string, unknown>; include: string[] };
      assert.deepEqual(cfg.compilerOptions.types, []);
      assert.deepEqual(cfg.compilerOptions.lib, ["ES2022"]);
      assert.equal(cfg.compilerOptions.strict, true);
      for (const d of ["src/mqtt", "src/app", "src/platform/moddable", "src/platform/host", "boards", "typings"]) assert.ok(cfg.include.includes(d), d);
    });
  });
});

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const e2e = process.env.XSMQTT_MODDABLE_E2E === "1" && !!process.env.MODDABLE && process.platform === "linux";
(e2e ? describe : describe.skip)("device firmware in the Moddable simulator (XSMQTT_MODDABLE_E2E=1, Linux, xvfb-run)", function () {
  this.timeout(180000);

  it("builds with mcconfig, connects to a broker and publishes readings", async () => {
    const { Aedes } = (await import("aedes")) as unknown as { Aedes: { createBroker(): Promise<AedesLike> } };
    interface AedesLike {
      handle: (socket: net.Socket) => void;
      on(event: "publish", f: (p: { topic: string; payload: Buffer }, client: unknown) => void): void;
      close(cb: () => void): void;
    }
    const broker = await Aedes.createBroker();
    const port = await freePort();
    const server = net.createServer(broker.handle).listen(port, "127.0.0.1");
    const seen: string[] = [];
    broker.on("publish", (p, client) => {
      if (client) seen.push(`${p.topic} ${p.payload.toString()}`);
    });
    try {
      const build = spawnSync(process.execPath, ["dist/tools/device.js", "build", "host", `brokers=mqtt://127.0.0.1:${port}`, "interval=1000"], { cwd: root, encoding: "utf8" });
      assert.equal(build.status, 0, build.stderr.slice(-2000));
      const moddable = process.env.MODDABLE!;
      const so = path.join(moddable, "build/bin/lin/mc/release/xsmqtt/mc.so");
      const mcsim = path.join(moddable, "build/bin/lin/release/mcsim");
      const sim = spawn("xvfb-run", ["-a", "timeout", "30", "stdbuf", "-oL", mcsim, so], { stdio: ["ignore", "pipe", "pipe"], detached: true });
      let out = "";
      sim.stdout.on("data", (d: Buffer) => (out += d.toString()));
      try {
        const deadline = Date.now() + 30000;
        while (Date.now() < deadline && seen.filter((s) => /^xsmqtt\/[^/]+\/env \{"t":\d+,"n":\d+,"temperature":/.test(s)).length < 2) await new Promise((r) => setTimeout(r, 200));
        assert.ok(seen.filter((s) => / \{"t":\d+,"n":\d+,"temperature":/.test(s)).length >= 2, `readings at the broker:\n${seen.join("\n")}\nsimulator:\n${out}`);
        assert.match(out, /mqtt connected to 127\.0\.0\.1/);
      } finally {
        try {
          process.kill(-sim.pid!, "SIGTERM");
        } catch {
          // already gone
        }
      }
    } finally {
      server.close();
      await new Promise<void>((r) => broker.close(() => r()));
    }
  });
});
