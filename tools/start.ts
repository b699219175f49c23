/**
 * npm start — the firmware on the simulated host board, against an embedded aedes broker
 * on a free loopback port (or --broker URL), showing what the broker receives as it
 * happens, until Ctrl-C. Type console commands (status, set interval 2000, apply, …) on
 * stdin.
 *
 *   npm start -- [--broker mqtt://host:port] [--engine node|xs] [--interval ms]
 *                [--device-id id] [--data dir] [--prefix p] [--serial /dev/ttyX] [--settings file]
 *
 * With --device-id the board keeps its flash (the readings journal) in a folder of that
 * device, ~/.xsmqtt/devices/<id> (or --data), so a restarted run with the same id sends
 * what a killed one still held.
 */
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { parseArgs } from "node:util";
import { MqttClient } from "../src/mqtt/client.js";
import { nodePlatform } from "../src/platform/node/index.js";
import { FileStorage, serialConsole } from "../src/platform/node/host.js";
import { NodeFiles } from "../src/platform/node/files.js";
import { parseBrokerUrl, type BuildConfig } from "../src/app/config.js";
import { ENGINE_NAMES, isEngineName, startEngine, type Engine } from "./runtime/engine.js";
import { countingPlatform } from "./runtime/counting.js";
import type { WakeReason } from "../src/app/board.js";
import type { LocalDevice } from "./runtime/app.js";
import { appModule } from "./runtime/modules.js";
const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string, s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const stamp = () => new Date().toISOString().slice(11, 23);

function usage(): string {
  return `usage: npm start -- [options]
  --broker URL     use this broker (mqtt://host:port) instead of an embedded aedes
  --engine E       node (default) or xs: run the firmware inside the XS engine
  --interval MS    sampling interval (default 5000)
  --device-id ID   device id (default host-<pid>); the board's flash (readings not yet
                   delivered) and, on node, its settings persist in ~/.xsmqtt/devices/ID
  --data DIR       keep the board's flash and settings in DIR instead (implies persistence)
  --sleep S        battery mode: one sample a wake, then S seconds of deep sleep (the
                   firmware ends and boots again with only its storage; use with --device-id)
  --awake MS       battery mode: the longest a wake lasts (default 15000); then it sleeps
                   anyway, with what it could not send held on flash
  --budget BYTES   readings held for the broker, in bytes of flash (default 16384); beyond
                   it the oldest are dropped and counted (status "dropped")
  --prefix P       topic prefix (default xsmqtt)
  --serial PATH    the device console on a serial port (e.g. one end of a socat pty pair)
  --settings FILE  keep console settings in FILE (default: in memory)`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      broker: { type: "string" },
      engine: { type: "string", default: "node" },
      interval: { type: "string", default: "5000" },
      "device-id": { type: "string" },
      data: { type: "string" },
      budget: { type: "string" },
      sleep: { type: "string" },
      awake: { type: "string" },
      prefix: { type: "string", default: "xsmqtt" },
      serial: { type: "string" },
      settings: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return void console.log(usage());
  const engineName = values.engine;
  if (!isEngineName(engineName)) throw new Error(`--engine must be ${ENGINE_NAMES.join(" or ")}, not ${engineName}`);

  // the broker: embedded aedes, watched through its publish events; or a real one, watched by a subscriber
  let brokerUrl = values.broker;
  let stopBroker = async () => {};
  const show = (topic: string, payload: Buffer | Uint8Array, qos: number, retain: boolean) => {
    const text = Buffer.from(payload).toString("utf8");
    console.log(`${paint("2", stamp())}  ${paint("36", "broker ←")} ${paint("1", topic)} ${paint("33", `qos${qos}`)}${retain ? paint("35", " retained") : ""}  ${text}`);
  };
  const prefix = values.prefix!;
  if (!brokerUrl) {
    const { startAedes } = await import("./runtime/brokers.js");
    const aedes = await startAedes();
    aedes.aedes.on("publish", (packet: any, client: any) => {
      if (client && typeof packet.topic === "string" && !packet.topic.startsWith("$SYS")) show(packet.topic, packet.payload, packet.qos, packet.retain);
    });
    brokerUrl = `mqtt://127.0.0.1:${aedes.port}`;
    stopBroker = () => aedes.close();
    console.log(paint("2", `${stamp()}  embedded aedes broker on ${brokerUrl}`));
  } else {
    const watcher = new MqttClient(
      {
        clientId: `xsmqtt-watch-${process.pid}`,
        brokers: [parseBrokerUrl(brokerUrl)],
        onMessage: (m) => show(m.topic, m.data.subarray(m.payloadStart, m.payloadEnd), m.qos, m.retain),
        onError: (e) => console.log(paint("31", `${stamp()}  watcher: ${e.message}`)),
      },
      nodePlatform(),
    );
    watcher.subscribe(`${prefix}/#`, { qos: 1 });
    watcher.connect();
    stopBroker = async () => watcher.close();
  }

  const config: BuildConfig = {
    deviceId: values["device-id"] ?? `host-${process.pid}`,
    brokers: [brokerUrl],
    prefix,
    interval: Number(values.interval),
    qos: 1,
    ...(values.budget ? { outboxBytes: Number(values.budget) } : {}),
    ...(values.sleep ? { sleep: Number(values.sleep) } : {}),
    ...(values.awake ? { awake: Number(values.awake) } : {}),
  };
  let stopping = false;
  const deviceLine = (line: string) => console.log(`${paint("2", stamp())}  ${paint("32", "device  ")} ${line}`);
  // on Node the console may be a serial port and the settings a file; inside XS neither
  const local: LocalDevice = {};
  let closeSerial = async () => {};
  let typed: ((line: string) => void) | null = null;
  // the board's flash: per device id, or a folder given; none (RAM) for an anonymous run
  const dataDir = values.data ?? (values["device-id"] ? path.join(os.homedir(), ".xsmqtt", "devices", values["device-id"]) : undefined);
  const files = dataDir ? new NodeFiles(dataDir) : undefined;
  if (engineName === "node") local.files = files;
  const settingsFile = values.settings ?? (dataDir ? path.join(dataDir, "settings.json") : undefined);
  if (engineName === "node" && values.serial) {
    const cons = await serialConsole(values.serial);
    // the console lives on the serial port; show the device's log here too
    const origWrite = cons.write.bind(cons);
    cons.write = (line: string) => (origWrite(line), deviceLine(line));
    local.terminal = cons;
    typed = (line) => cons.input(line);
    closeSerial = () => cons.close();
  }
  if (dataDir) console.log(paint("2", `${stamp()}  device storage in ${dataDir}`));
  // bytes on the wire, for the battery mode's report
  const wire = { out: 0, in: 0 };
  const platform = countingPlatform(nodePlatform(), wire);

  /**
   * Boots the firmware with only what is on its storage: at the start, and after each deep
   * sleep (battery mode), when the engine of the last wake has been closed (inside XS its
   * process has ended).
   */
  let engine: Engine;
  let cycles = 0;
  let wokeAt = 0;
  const boot = async (wake: WakeReason): Promise<void> => {
    const settings = settingsFile ? new FileStorage(settingsFile) : undefined;
    if (engineName === "node") local.storage = settings;
    // inside XS the settings live in memory: they start from the file and every change comes back here to be saved
    const initial: Record<string, string> = {};
    if (engineName === "xs" && settings) for (const k of settings.keys()) initial[k] = settings.get(k)!;
    wire.out = wire.in = 0;
    wokeAt = Date.now();
    engine = await startEngine(engineName, appModule(local), {
      onEvent: (e) => {
        if (e.type === "console") deviceLine(e.line);
        else if (e.type === "setting" && settings) e.value === null ? settings.delete(e.key) : settings.set(e.key, e.value);
        else if (e.type === "sleep") void sleepFor(e.ms);
      },
      files,
      platform,
    });
    await engine.call("start", config, initial, { files: files !== undefined, settingEvents: engineName === "xs" && settings !== undefined, wake });
  };
  /** Deep sleep: the firmware of this wake is done; it ends, and boots again after `ms`. */
  const sleepFor = async (ms: number): Promise<void> => {
    const done = engine;
    await new Promise((r) => setTimeout(r, 50)); // the DISCONNECT leaves
    await done.close();
    cycles++;
    console.log(paint("2", `${stamp()}  runner: wake ${cycles} took ${Date.now() - wokeAt} ms, ${wire.out} bytes out and ${wire.in} in; deep sleep ${ms} ms`));
    await new Promise((r) => setTimeout(r, ms));
    if (!stopping) await boot("timer");
  };
  await boot("power-on");
  const input = typed ?? ((line: string) => void engine.call("line", line));
  const stop = async () => {
    await engine.call("stop").catch(() => undefined);
    await engine.close();
    await closeSerial();
  };
  if (engineName === "xs") deviceLine(paint("2", "(running inside the XS engine)"));

  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  rl.on("line", (line) => input(line));
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    rl.close();
    await stop();
    await new Promise((r) => setTimeout(r, 200)); // let DISCONNECT reach the broker: no will for a clean stop
    await stopBroker();
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

main().catch((e) => {
  console.error(`xsmqtt start: ${(e as Error).message}`);
  process.exit(1);
});
