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
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BoardDefinition, Files } from "../src/app/board.js";
import type { Platform, TransportSink } from "../src/mqtt/platform.js";

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
  // the SDK's TLS socket; its crypt manifests bring "Resource" (the certificate data)
  "$(MODDABLE)/examples/io/tcp/tlssocket/manifest.json": ["embedded:io/socket/tcp/tls", "Resource"],
  "$(MODDABLE)/modules/base/instrumentation/manifest.json": ["instrumentation"],
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
      const battery = readDeviceConfig({ sleep: "2", awake: 8000 });
      assert.equal(battery.build.sleep, 2, "sleep=2 on the mcconfig command line: battery mode");
      assert.equal(battery.build.awake, 8000);
      const bad = readDeviceConfig({ sleep: "-1", awake: "soon" });
      assert.equal(bad.build.sleep, undefined);
      assert.equal(bad.build.awake, undefined);
      assert.equal(bad.warnings.length, 2);
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

  describe("deep sleep (battery mode)", () => {
    const C_SOURCE = "src/platform/moddable/native/xsmqtt_sleep.c";
    const C_MAPPING = "$(XSMQTT)/src/platform/moddable/native/xsmqtt_sleep";
    const c = readFileSync(path.join(root, C_SOURCE), "utf8");
    /** The C source without comments, so that a name in a comment proves nothing. */
    const code = c.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    const hostFunctionsOf = (js: string) => [...js.matchAll(/\bnative\("(\w+)"\)/g)].map((m) => m[1]).sort();

    it("every ESP32 target maps deep-sleep.js, preloads it and links its C source; the simulators map deep-sleep-sim.js and link no C", () => {
      const sub = JSON.parse(readFileSync(path.join(root, "src/platform/moddable/manifest_esp32.json"), "utf8")) as PlatformEntry;
      assert.ok(list(sub.modules?.["*"]).includes(C_MAPPING), `manifest_esp32.json "*" names ${C_MAPPING}`);
      assert.ok(list(sub.preload).includes("xsmqtt/platform/moddable/deep-sleep"));
      // a "*" entry without an extension takes every source file of that name: the C file alone
      const twins = readdirSync(path.join(root, "src/platform/moddable/native")).filter((f) => f.startsWith("xsmqtt_sleep."));
      assert.deepEqual(twins, ["xsmqtt_sleep.c"]);
      for (const target of Object.keys(DEVICE_TARGETS)) {
        const { modules } = platformView(target);
        assert.equal(modules.get("xsmqtt/platform/moddable/deep-sleep"), path.join(root, "dist/src/platform/moddable/deep-sleep.js"), target);
        assert.ok(checkGraph(target, SDK_ESP32, true).reached.has("xsmqtt/platform/moddable/deep-sleep"), `${target}: the entry reaches the deep-sleep module`);
        assert.ok(list(platformView(target).entry.include).includes("./src/platform/moddable/manifest_esp32.json"), `${target} includes the ESP32 sub-manifest`);
      }
      const simulator = readFileSync(path.join(root, "src/platform/moddable/manifest_simulator.json"), "utf8");
      assert.ok(!simulator.includes("xsmqtt_sleep"), "the simulator has no ESP-IDF: the C file must stay out of its build");
      for (const sim of SIMULATORS) {
        const { modules } = platformView(sim);
        assert.equal(modules.get("xsmqtt/platform/moddable/deep-sleep"), path.join(root, "dist/src/platform/moddable/deep-sleep-sim.js"), sim);
        assert.ok(checkGraph(sim, SDK_COMMON, true).reached.has("xsmqtt/platform/moddable/deep-sleep"));
      }
    });

    it("the host functions deep-sleep.js names are the ones the C file defines, each given a type in deep-sleep.ts", () => {
      const js = readFileSync(path.join(root, "dist/src/platform/moddable/deep-sleep.js"), "utf8");
      const named = hostFunctionsOf(js);
      assert.deepEqual(named, ["xs_xsmqtt_deep_sleep", "xs_xsmqtt_wake_cause"]);
      const defined = [...code.matchAll(/^void (xs_\w+)\(xsMachine \*the\)\s*\{/gm)].map((m) => m[1]).sort();
      assert.deepEqual(defined, named);
      const ts = readFileSync(path.join(root, "src/platform/moddable/deep-sleep.ts"), "utf8");
      for (const name of named) assert.match(ts, new RegExp(`native\\("${name}"\\) as \\(`), `${name} has a function type`);
      // the simulator's module must not name them: its build links no C
      assert.deepEqual(hostFunctionsOf(readFileSync(path.join(root, "dist/src/platform/moddable/deep-sleep-sim.js"), "utf8")), []);
    });

    it("the C source calls ESP-IDF's sleep API with its declared types, in a safe order", () => {
      for (const h of ["xsmc.h", "esp_err.h", "esp_idf_version.h", "esp_sleep.h", "esp_system.h", "esp_wifi.h"]) assert.match(code, new RegExp(`^#include "${h.replace(".", "\\.")}"$`, "m"), h);
      // esp_err_t esp_sleep_enable_timer_wakeup(uint64_t time_in_us): a whole, range-checked count of µs
      assert.match(code, /err = esp_sleep_enable_timer_wakeup\(\(uint64_t\)us\);/);
      assert.match(code, /if \(!\(us >= 1\) \|\| \(us > MAX_SLEEP_US\) \|\| \(us != \(double\)\(uint64_t\)us\)\)\s*xsRangeError/);
      assert.match(code, /#define MAX_SLEEP_US 9007199254740991\.0/);
      assert.match(code, /if \(err != ESP_OK\)\s*xsRangeError/, "a refused duration throws: it never sleeps without a way to wake");
      // void esp_deep_sleep_start(void) __attribute__((noreturn)), after the timer is armed and Wi-Fi stopped
      const arm = code.indexOf("esp_sleep_enable_timer_wakeup(");
      const wifi = code.indexOf("esp_wifi_stop();");
      const start = code.indexOf("esp_deep_sleep_start();");
      assert.ok(arm > 0 && wifi > arm && start > wifi, "timer, then Wi-Fi stopped, then deep sleep");
      assert.equal(code.match(/esp_deep_sleep_start\(\)/g)?.length, 1);
      assert.doesNotMatch(code, /esp_deep_sleep\(|esp_deep_sleep_try/, "one way into deep sleep");
      // the wake cause: esp_reset_reason_t esp_reset_reason(void); the timer among the wakeup causes
      assert.match(code, /switch \(esp_reset_reason\(\)\)/);
      for (const r of ["ESP_RST_POWERON", "ESP_RST_EXT", "ESP_RST_DEEPSLEEP"]) assert.match(code, new RegExp(`case ${r}:`), r);
      const v6 = code.indexOf("#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(6, 0, 0)");
      const causes = code.indexOf("esp_sleep_get_wakeup_causes() & ((uint32_t)1 << ESP_SLEEP_WAKEUP_TIMER)");
      const otherwise = code.indexOf("#else", v6);
      const cause = code.indexOf("esp_sleep_get_wakeup_cause() == ESP_SLEEP_WAKEUP_TIMER");
      assert.ok(v6 > 0 && causes > v6 && otherwise > causes && cause > otherwise, "v6.0: the bitmap (the single cause is deprecated there); before: the single cause");
      assert.deepEqual([...code.matchAll(/"(timer|power-on|other)"/g)].map((m) => m[1]).sort(), ["other", "power-on", "timer"]);
    });

    it("the C source compiles against ESP-IDF v5 and v6 declarations with warnings as errors (needs a C compiler)", function () {
      const cc = ["cc", "gcc", "clang"].find((x) => spawnSync(x, ["--version"], { encoding: "utf8" }).status === 0);
      if (!cc) return this.skip();
      const dir = mkdtempSync(path.join(tmpdir(), "xsmqtt-sleep-"));
      try {
        // Stand-ins with the prototypes and names ESP-IDF declares (components/esp_hw_support/include/esp_sleep.h,
        // esp_system/include/esp_system.h, esp_wifi/include/esp_wifi.h, esp_common/include/esp_idf_version.h).
        const headers: Record<string, string> = {
          "esp_err.h": "#pragma once\n#include <stdint.h>\ntypedef int esp_err_t;\n#define ESP_OK 0\n",
          "esp_idf_version.h":
            "#pragma once\n#define ESP_IDF_VERSION_VAL(major, minor, patch) ((major << 16) | (minor << 8) | (patch))\n#define ESP_IDF_VERSION ESP_IDF_VERSION_VAL(IDF_MAJOR, 0, 0)\n",
          "esp_sleep.h": [
            "#pragma once",
            '#include <stdint.h>\n#include "esp_err.h"\n#include "esp_idf_version.h"',
            "typedef enum { ESP_SLEEP_WAKEUP_UNDEFINED, ESP_SLEEP_WAKEUP_ALL, ESP_SLEEP_WAKEUP_EXT0, ESP_SLEEP_WAKEUP_EXT1, ESP_SLEEP_WAKEUP_TIMER } esp_sleep_source_t;",
            "typedef esp_sleep_source_t esp_sleep_wakeup_cause_t;",
            "esp_err_t esp_sleep_enable_timer_wakeup(uint64_t time_in_us);",
            "void esp_deep_sleep_start(void) __attribute__((__noreturn__));",
            "#if IDF_MAJOR >= 6",
            "esp_sleep_wakeup_cause_t esp_sleep_get_wakeup_cause(void) __attribute__((deprecated));",
            "uint32_t esp_sleep_get_wakeup_causes(void);",
            "#else",
            "esp_sleep_wakeup_cause_t esp_sleep_get_wakeup_cause(void);",
            "#endif",
            "",
          ].join("\n"),
          "esp_system.h":
            '#pragma once\n#include "esp_err.h"\ntypedef enum { ESP_RST_UNKNOWN, ESP_RST_POWERON, ESP_RST_EXT, ESP_RST_SW, ESP_RST_PANIC, ESP_RST_INT_WDT, ESP_RST_TASK_WDT, ESP_RST_WDT, ESP_RST_DEEPSLEEP, ESP_RST_BROWNOUT, ESP_RST_SDIO } esp_reset_reason_t;\nesp_reset_reason_t esp_reset_reason(void);\n',
          "esp_wifi.h": '#pragma once\n#include "esp_err.h"\nesp_err_t esp_wifi_stop(void);\n',
        };
        const moddable = process.env.MODDABLE;
        const realXs = !!moddable && existsSync(path.join(moddable, "xs/includes/xsmc.h"));
        if (!realXs)
          // the parts of XS's xsmc.h the file uses, with XS's own signatures
          headers["xsmc.h"] = [
            "#pragma once",
            "typedef struct sxMachine xsMachine;\ntypedef struct { void *kind; } xsSlot;",
            "int _xsArgc(xsMachine *);\nxsSlot *fxArgAt(xsMachine *, int);\nxsSlot *fxResultAt(xsMachine *);",
            "double fxToNumber(xsMachine *, xsSlot *);\nvoid fxString(xsMachine *, xsSlot *, char *);",
            "void fxThrowMessage(xsMachine *, char *, int, int, char *, ...) __attribute__((noreturn, format(printf, 5, 6)));",
            "#define xsmcArgc _xsArgc(the)\n#define xsArg(i) (*fxArgAt(the, i))\n#define xsResult (*fxResultAt(the))",
            "#define xsmcToNumber(s) fxToNumber(the, &(s))\n#define xsmcSetString(s, v) fxString(the, &(s), v)",
            "#define xsRangeError(...) fxThrowMessage(the, (char *)__FILE__, __LINE__, 2, __VA_ARGS__)",
            "",
          ].join("\n");
        for (const [name, text] of Object.entries(headers)) writeFileSync(path.join(dir, name), text);
        const xs = realXs ? ["-I", path.join(moddable, "xs/includes"), "-I", path.join(moddable, "xs/platforms"), "-Dmxlin=1"] : [];
        for (const major of [5, 6]) {
          const args = ["-fsyntax-only", "-std=gnu17", "-Wall", "-Wextra", "-Werror", "-Werror=implicit-function-declaration", `-DIDF_MAJOR=${major}`, "-I", dir, ...xs, path.join(root, C_SOURCE)];
          const r: { status: number | null; stderr: string } = spawnSync(cc, args, { encoding: "utf8" });
          assert.equal(r.status, 0, `ESP-IDF v${major} declarations, ${realXs ? "the SDK's" : "stand-in"} xsmc.h:\n${r.stderr}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("ESP32 module: sleep(ms) hands the host whole microseconds and refuses what it cannot sleep; wake is the host's answer", async () => {
      const calls: number[] = [];
      let cause: unknown = "timer";
      const g = globalThis as { native?: (name: string) => unknown };
      const hosts: Record<string, unknown> = {
        xs_xsmqtt_deep_sleep: (us: number) => void calls.push(us),
        xs_xsmqtt_wake_cause: () => cause,
      };
      g.native = (name) => hosts[name];
      let mod: typeof import("../src/platform/moddable/deep-sleep.js");
      try {
        mod = (await import(pathToFileURL(path.join(root, "dist/src/platform/moddable/deep-sleep.js")).href)) as typeof import("../src/platform/moddable/deep-sleep.js");
      } finally {
        delete g.native;
      }
      const { MAX_SLEEP_MS } = (await import(pathToFileURL(path.join(root, "dist/src/platform/moddable/sleep-time.js")).href)) as typeof import("../src/platform/moddable/sleep-time.js");
      const s = mod.createDeepSleep(null);
      assert.equal(s.wake, "timer");
      const platform = { connect: () => ({}) as never, timer: () => ({ set() {}, clear() {} }), now: () => 0 };
      assert.equal(s.guard(platform), platform, "nothing runs after the ESP32 sleeps: no guard needed");
      s.sleep(2000);
      s.sleep(0.0004);
      s.sleep(1.0005);
      s.sleep(MAX_SLEEP_MS);
      assert.deepEqual(calls, [2000000, 1, 1001, MAX_SLEEP_MS * 1000]);
      assert.ok(Number.isSafeInteger(MAX_SLEEP_MS * 1000));
      for (const bad of [0, -5, NaN, Infinity, MAX_SLEEP_MS + 1, "10" as unknown as number]) assert.throws(() => s.sleep(bad), RangeError, String(bad));
      assert.equal(calls.length, 4, "a refused duration never reaches the host");
      for (const [answer, wake] of [["power-on", "power-on"], ["other", "other"], ["asleep?", "other"], [undefined, "other"]] as const) {
        cause = answer;
        assert.equal(mod.createDeepSleep(null).wake, wake, String(answer));
      }
    });

    it("simulator module: the marker, then the traced line; every timer stops; the next boot is a timer wake, the one after a power-on", async () => {
      const mod = (await import(pathToFileURL(path.join(root, "dist/src/platform/moddable/deep-sleep-sim.js")).href)) as typeof import("../src/platform/moddable/deep-sleep-sim.js");
      const stored = new Map<string, Uint8Array>();
      const files: Files = {
        open(name, create) {
          if (!stored.has(name)) {
            if (!create) return null;
            stored.set(name, new Uint8Array(0));
          }
          let data = stored.get(name)!;
          let dirty = false;
          return {
            size: () => data.length,
            read: () => 0,
            write(bytes, position) {
              const grown = new Uint8Array(Math.max(data.length, position + bytes.length));
              grown.set(data);
              grown.set(bytes, position);
              data = grown;
              dirty = true;
            },
            truncate(length) {
              data = data.slice(0, length);
            },
            sync() {
              dirty = false;
            },
            close() {
              assert.ok(!dirty, "written bytes are synced before the file is closed");
              stored.set(name, data);
            },
          };
        },
        remove: (name) => void stored.delete(name),
        rename() {
          throw new Error("not used");
        },
      };
      const events: string[] = [];
      const g = globalThis as { trace?: (...s: string[]) => void };
      g.trace = (...s) => events.push(`trace ${s.join("").trimEnd()} [marker ${stored.has("sleeping") ? new TextDecoder().decode(stored.get("sleeping")).trim() : "none"}]`);
      const platform: Platform = {
        connect: () => {
          events.push("connect");
          return { write: () => 1, writePacket: () => true, close() {} };
        },
        timer: () => {
          const n = events.filter((e) => e.startsWith("timer ")).length;
          events.push(`timer ${n}`);
          return { set: (ms) => void events.push(`set ${n} ${ms}`), clear: () => void events.push(`clear ${n}`) };
        },
        now: () => 42,
      };
      try {
        const boot = mod.createDeepSleep(files);
        assert.equal(boot.wake, "power-on");
        const p = boot.guard(platform);
        const a = p.timer(() => {});
        const b = p.timer(() => {});
        a.set(100);
        p.connect({ host: "h", port: 1 }, {} as TransportSink);
        assert.equal(p.now(), 42);
        assert.throws(() => boot.sleep(0), RangeError);
        assert.throws(() => boot.sleep(NaN), RangeError);
        assert.equal(stored.size, 0, "a refused sleep leaves no marker");
        events.length = 0;
        boot.sleep(1500.2);
        assert.deepEqual(events, ["clear 0", "clear 1", "trace # deep sleep 1501 ms [marker 1501]"], "the marker is on storage when the line appears");
        assert.match("# deep sleep 1501 ms", mod.SLEEP_LINE);
        assert.equal("# deep sleep 1501 ms".match(mod.SLEEP_LINE)?.[1], "1501");
        events.length = 0;
        a.set(5);
        b.set(6);
        const t = p.connect({ host: "h", port: 1 }, {} as TransportSink);
        assert.equal(t.write(new Uint8Array(4), 0, 4), 0);
        assert.equal(t.writePacket(new Uint8Array(1), new Uint8Array(1)), false);
        boot.sleep(10);
        assert.equal(events.length, 1, `asleep: no timer set, no connection, no second sleep, one complaint: ${events.join(" | ")}`);
        assert.match(events[0], /^trace # deep sleep: a timer set after the sleep ignored/);

        const woke = mod.createDeepSleep(files);
        assert.equal(woke.wake, "timer");
        assert.ok(!stored.has(mod.WAKE_MARKER), "the marker is consumed at boot");
        assert.equal(mod.createDeepSleep(files).wake, "power-on", "a start that did not follow a sleep");

        events.length = 0;
        const noFiles = mod.createDeepSleep(null);
        assert.equal(noFiles.wake, "power-on");
        noFiles.sleep(2000);
        assert.deepEqual(events, ["trace # deep sleep 2000 ms [marker none]"]);
      } finally {
        delete g.trace;
      }
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

    it("ca=<file>: PEM or DER in, DER built in as the resource the TLS transport trusts, removed by a build without it", async () => {
      const { plan, certificateDer, installCa, caPath, UsageError } = (await import(pathToFileURL(path.join(root, "dist/tools/device.js")).href)) as typeof import("../tools/device.js");
      const { makeCerts } = await import("./certs.js");
      assert.deepEqual(plan("build", ["host", "ca=/x/ca.pem", "ssid=a"], "linux"), { args: ["-m", "-p", "lin", "-t", "build", "ssid=a"], platform: "lin", simulator: true, ca: "/x/ca.pem" });
      assert.throws(() => plan("build", ["host", "ca="], "linux"), UsageError);
      const certs = makeCerts();
      const fake = mkdtempSync(path.join(tmpdir(), "xsmqtt-ca-"));
      try {
        const pem = readFileSync(certs.caCert);
        const der = spawnSync("openssl", ["x509", "-in", certs.caCert, "-outform", "der"]).stdout;
        assert.ok(der.length > 100);
        assert.deepEqual(certificateDer(pem), der, "PEM decoded to openssl's DER");
        assert.deepEqual(certificateDer(der), der, "DER kept as it is");
        assert.throws(() => certificateDer(Buffer.from("not a certificate")), /neither a PEM certificate/);
        mkdirSync(path.join(fake, "src/platform/moddable/ca"), { recursive: true });
        installCa(certs.caCert, fake);
        assert.deepEqual(readFileSync(caPath(fake)), der);
        installCa(undefined, fake);
        assert.equal(existsSync(caPath(fake)), false);
        // the manifest builds that file in, beside the SDK's roots, with the SDK's TLS socket
        const manifest = JSON.parse(readFileSync(path.join(root, "manifest.json"), "utf8"));
        assert.ok(manifest.data["*"].includes("./src/platform/moddable/ca/xsmqtt-ca"));
        assert.equal(path.relative(root, caPath()), path.join("src/platform/moddable/ca/xsmqtt-ca.der"));
        for (const n of [106, 109, 170, 222]) assert.ok(manifest.data["*"].includes(`$(MODULES)/crypt/data/ca${n}`), `root ca${n}`);
        assert.ok(manifest.include.includes("$(MODDABLE)/examples/io/tcp/tlssocket/manifest.json"), "the SDK's TLS socket, by reference");
      } finally {
        certs.remove();
        rmSync(fake, { recursive: true, force: true });
      }
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
        // aedes speaks 3.1.1 only: protocol "auto" tried 5.0 first and fell back
        assert.match(out, /refused MQTT 5\.0 .*speaking 3\.1\.1 to it until restart/);
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
