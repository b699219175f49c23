/**
 * `xsmqtt provision`: settings into a device over its serial console, with the
 * firmware's line protocol (`set <key> <value>` → `ok <key>` | `error <reason>`, then
 * `apply` → `ok apply`; see App.onConsoleLine in src/app/app.ts).
 *
 * The device is the authority on its settings' values: it checks each one as it stores
 * it, and its refusal is reported as it gave it. Only the broker URLs are checked here
 * first, and only what the one-line protocol cannot carry (line breaks, edge spaces).
 */
import type { SerialPort } from "serialport";
import { checkSetting, type SettingKey } from "../../src/app/config.js";
import { parseOptions, UsageError, type CommandIo } from "./command.js";
import { closePort, LineSplitter, openPort, parseBaud, reason } from "./monitor.js";

/** Printed by `xsmqtt help provision`. */
export const usage = `usage: xsmqtt provision --port PATH --ssid S --password P --broker URL [options]

Stores Wi-Fi and MQTT settings in a device running the xsmqtt firmware, over its
serial console, then tells it to apply them (reconnect with the new settings).

Each setting is sent as "set <key> <value>" and must be answered "ok <key>"; the
device's log lines ("# …") in between are skipped. If the device refuses a value, its
reason is shown, nothing further is sent, and the status is 1. Settings the device may
refuse (device id, prefix, interval, qos, discovery) are sent first, so that a refusal leaves the
Wi-Fi and broker settings as they were. Passwords are never shown.

options:
  -p, --port PATH   the device's serial port
  -b, --baud N      bits per second (default 115200)
  --timeout S       seconds to wait for each answer (default 5)
  --no-apply        store the settings only; they take effect at the next "apply"
                    or restart

settings, with the device's key for each:
  --ssid S          ssid      Wi-Fi network name
  --password P      wifipass  Wi-Fi password
  --broker URL      broker    mqtt://host[:port] or mqtts://host[:port]; several as a
                              comma-separated list or by repeating --broker
  --user U          user      MQTT user name
  --pass P          pass      MQTT password
  --device-id ID    deviceid  the client id and the device's topic level
  --prefix P        prefix    topic prefix
  --interval MS     interval  milliseconds between readings (100 to 86400000)
  --qos Q           qos       QoS of readings (0, 1 or 2)
  --discovery P     discovery Home Assistant discovery prefix (default homeassistant),
                              or "off" (removes the device from Home Assistant)

Exit status: 0 stored (and applied), 1 the device refused a value, did not answer or
the port could not be opened, 2 wrong command line (including a malformed broker URL,
or --pass without --user).

examples:
  xsmqtt provision --port /dev/ttyUSB0 --ssid home --password 'correct horse' \\
      --broker mqtt://192.168.1.10 --device-id kitchen
  xsmqtt provision -p /dev/ttyACM0 --ssid lab --password s3cret \\
      --broker mqtts://broker.example.com --user kitchen --pass hunter2 --interval 60000
`;

interface Field {
  /** The command-line option. */
  option: string;
  key: SettingKey;
  secret: boolean;
}

/** In the order sent: the values the device checks first, then those it takes as given. */
const FIELDS: readonly Field[] = [
  { option: "device-id", key: "deviceid", secret: false },
  { option: "prefix", key: "prefix", secret: false },
  { option: "interval", key: "interval", secret: false },
  { option: "qos", key: "qos", secret: false },
  { option: "discovery", key: "discovery", secret: false },
  { option: "user", key: "user", secret: false },
  { option: "pass", key: "pass", secret: true },
  { option: "broker", key: "broker", secret: false },
  { option: "ssid", key: "ssid", secret: false },
  { option: "password", key: "wifipass", secret: true },
];

/** The order of the summary: as a person reads a configuration. */
const SUMMARY_ORDER: readonly SettingKey[] = ["ssid", "wifipass", "broker", "user", "pass", "deviceid", "prefix", "interval", "qos", "discovery"];

const MASK = "********";

type Reply = { kind: "ok" } | { kind: "error"; reason: string } | { kind: "timeout" } | { kind: "closed" };

/** The device's side of the console: commands out, answers in, log lines ("# …") skipped. */
class DeviceConsole {
  private readonly lines = new LineSplitter();
  private readonly decoder = new TextDecoder("utf-8");
  private listener: ((line: string) => void) | null = null;
  private closed = false;
  private onClose: (() => void) | null = null;

  constructor(private readonly port: SerialPort) {
    port.on("data", (chunk: Buffer) => {
      for (const { line } of this.lines.push(this.decoder.decode(chunk, { stream: true }), 0)) {
        if (!line.startsWith("# ")) this.listener?.(line);
      }
    });
    port.on("close", () => {
      this.closed = true;
      this.onClose?.();
    });
  }

  /**
   * Sends `command` and resolves with the first answer that `isOk` accepts or that is an
   * `error <reason>`; other lines (answers to earlier commands) are skipped. Sends the
   * command again every `resendMs` if given, until `timeoutMs` has passed.
   */
  request(command: string, isOk: (line: string) => boolean, timeoutMs: number, resendMs = 0): Promise<Reply> {
    if (this.closed) return Promise.resolve({ kind: "closed" });
    return new Promise((resolve) => {
      const finish = (r: Reply) => {
        clearTimeout(timer);
        clearInterval(again);
        this.listener = null;
        this.onClose = null;
        resolve(r);
      };
      this.listener = (line) => {
        if (isOk(line)) finish({ kind: "ok" });
        else if (line.startsWith("error ")) finish({ kind: "error", reason: line.slice(6) });
      };
      this.onClose = () => finish({ kind: "closed" });
      const send = () => void this.port.write(`${command}\r\n`);
      const timer = setTimeout(() => finish({ kind: "timeout" }), timeoutMs);
      const again = resendMs > 0 ? setInterval(send, resendMs) : undefined;
      send();
    });
  }

  /** Skips whatever arrives for `ms`. */
  async settle(ms: number): Promise<void> {
    this.listener = null;
    await new Promise((r) => setTimeout(r, ms));
  }
}

/** The value as the protocol can carry it, or a {@link UsageError} saying why not. */
function lineSafe(option: string, value: string): string {
  if (value === "") throw new UsageError(`--${option} must not be empty`);
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new UsageError(`--${option} cannot contain line breaks or control characters (the console takes one command per line)`);
  if (value.trim() !== value) throw new UsageError(`--${option} cannot begin or end with a space (the device's console trims them)`);
  return value;
}

/** Resolves to the exit status; throws {@link UsageError}. */
export async function run(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    port: { type: "string", short: "p" },
    baud: { type: "string", short: "b" },
    ssid: { type: "string" },
    password: { type: "string" },
    broker: { type: "string", multiple: true },
    user: { type: "string" },
    pass: { type: "string" },
    "device-id": { type: "string" },
    prefix: { type: "string" },
    interval: { type: "string" },
    qos: { type: "string" },
    discovery: { type: "string" },
    "no-apply": { type: "boolean" },
    timeout: { type: "string" },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  for (const required of ["port", "ssid", "password", "broker"] as const) {
    if (values[required] === undefined) throw new UsageError(`--${required} is required`);
  }
  const path = values.port!;
  const baud = parseBaud(values.baud);
  const timeoutMs = values.timeout === undefined ? 5000 : Number(values.timeout) * 1000;
  if (!(timeoutMs > 0 && Number.isFinite(timeoutMs))) throw new UsageError(`--timeout must be a positive number of seconds, not "${values.timeout}"`);

  const given = new Map<SettingKey, string>();
  for (const f of FIELDS) {
    const raw = f.option === "broker" ? values.broker!.join(",") : (values as Record<string, string | undefined>)[f.option];
    if (raw === undefined) continue;
    const value = f.key === "broker" ? raw.split(",").map((u) => u.trim()).join(",") : raw;
    lineSafe(f.option, value);
    if (f.key === "broker") {
      const err = checkSetting("broker", value);
      if (err) throw new UsageError(`--broker: ${err}`);
    }
    given.set(f.key, value);
  }
  // the firmware accepts a stored password without a user name and then cannot build its
  // CONNECT (MQTT 3.1.1 §3.1.2.9), so it never connects again; never send one alone
  if (given.has("pass") && !given.has("user")) throw new UsageError("--pass needs --user (MQTT 3.1.1 sends a password only with a user name)");
  const shown = (key: SettingKey) => (FIELDS.find((f) => f.key === key)!.secret ? MASK : given.get(key)!);

  let port: SerialPort;
  try {
    port = await openPort(path, baud);
  } catch (e) {
    io.err(`xsmqtt provision: cannot open ${path}: ${reason(e)}\n`);
    return 1;
  }
  const stored: SettingKey[] = [];
  const fail = (message: string) => {
    io.err(`xsmqtt provision: ${message}\n`);
    if (stored.length > 0) io.err(`  already stored (not applied): ${stored.join(", ")}\n`);
    return 1;
  };
  const failed = (r: Reply, what: string) =>
    r.kind === "timeout"
      ? fail(`no answer from the device on ${path} (is the firmware running and the baud rate right?)`)
      : r.kind === "closed"
        ? fail(`${path} closed while waiting for the device to answer ${what}`)
        : fail(`the device refused ${what}: ${(r as { reason: string }).reason}`);

  try {
    const device = new DeviceConsole(port);
    // An empty line ends whatever half line the device holds. The first command is sent
    // again each second: a board that resets when its port is opened misses what comes
    // while it boots.
    port.write("\r\n");
    const probing = Date.now();
    const probe = await device.request("keys", (l) => l === "keys" || l.startsWith("keys "), timeoutMs, 1000);
    if (probe.kind === "timeout" || probe.kind === "closed") return failed(probe, "keys");
    if (Date.now() - probing >= 1000) await device.settle(300); // answers to the repeats, if any

    for (const f of FIELDS) {
      const value = given.get(f.key);
      if (value === undefined) continue;
      const r = await device.request(`set ${f.key} ${value}`, (l) => l === `ok ${f.key}`, timeoutMs);
      if (r.kind !== "ok") return failed(r, `${f.key} ${shown(f.key)}`);
      stored.push(f.key);
    }
    const apply = !values["no-apply"];
    if (apply) {
      const r = await device.request("apply", (l) => l === "ok apply", timeoutMs);
      if (r.kind !== "ok") return failed(r, "apply");
    }

    const keys = SUMMARY_ORDER.filter((k) => given.has(k));
    const width = Math.max(...keys.map((k) => k.length));
    io.out(`stored in the device on ${path}:\n`);
    for (const k of keys) io.out(`  ${k.padEnd(width)}  ${shown(k)}\n`);
    io.out(apply ? "applied: the device is reconnecting with these settings\n" : "not applied (--no-apply): they take effect at the next apply or restart\n");
    return 0;
  } finally {
    await closePort(port);
  }
}
