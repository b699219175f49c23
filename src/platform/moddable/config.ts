/// <reference path="../../../typings/index.d.ts" />
/**
 * Reads the manifest's "config" (`mc/config`) into the app's BuildConfig and the device's
 * own settings. Values given on the mcconfig command line (`ssid=… password=…`) arrive as
 * strings, so each field is parsed here; a value that cannot be used is reported and
 * left out, so the app's default applies instead of the firmware failing to boot.
 *
 * Pure ECMAScript: the host tests run it on Node.
 */
import type { McConfig } from "mc/config";
import type { BuildConfig } from "../../app/config.js";

export interface DeviceConfig {
  build: BuildConfig;
  /** SNTP servers in order; empty to trust the system clock. */
  sntp: string[];
  /** Read console lines from the UART. */
  serialInput: boolean;
  /** Simulator: tty to read console lines from. */
  serialDevice?: string;
  /** `mqtts://`: check the broker's certificate and name (default true; `tlsVerify=0` turns it off). */
  tlsVerify: boolean;
  /** One message per config value that was ignored. */
  warnings: string[];
}

type Raw = McConfig[string];

function text(v: Raw): string | undefined {
  if (typeof v === "number") return String(v);
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

function list(v: Raw): string[] {
  if (Array.isArray(v)) return v.map((x) => text(x as Raw)).filter((x): x is string => x !== undefined);
  const s = text(v);
  return s === undefined ? [] : s.split(",").map((x) => x.trim()).filter((x) => x !== "");
}

function flag(v: Raw, fallback: boolean): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v !== "string" || v.trim() === "") return fallback;
  return !/^(0|false|no|off)$/i.test(v.trim());
}

/** Parses the device's config; never throws. */
export function readDeviceConfig(config: McConfig): DeviceConfig {
  const warnings: string[] = [];
  const int = (key: string, min: number, max: number): number | undefined => {
    const v = config[key];
    if (v === undefined || v === "") return undefined;
    const n = typeof v === "number" ? v : typeof v === "string" ? Number(v.trim()) : NaN;
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    warnings.push(`config ${key}=${String(v)} ignored: expected a whole number from ${min} to ${max}`);
    return undefined;
  };
  const build: BuildConfig = {};
  const set = <K extends keyof BuildConfig>(key: K, value: BuildConfig[K] | undefined): void => {
    if (value !== undefined) build[key] = value;
  };
  set("deviceId", text(config.deviceId));
  const brokers = list(config.brokers);
  if (brokers.length > 0) build.brokers = brokers;
  set("username", text(config.username));
  set("password", text(config.mqttPassword));
  set("prefix", text(config.prefix));
  set("interval", int("interval", 100, 86400000));
  set("qos", int("qos", 0, 2));
  set("outboxBytes", int("outboxBytes", 256, 1 << 20));
  set("discovery", text(config.discovery));
  // battery mode: seconds of deep sleep between wakes (the app's limit), and the longest wake in ms
  set("sleep", int("sleep", 0, 604800));
  set("awake", int("awake", 1000, 600000));
  // MQTT version ("auto": 5.0, 3.1.1 where a broker refuses it) and the 5.0 session expiry, s
  const protocol = text(config.protocol);
  if (protocol === "auto" || protocol === "5" || protocol === "3.1.1") build.protocol = protocol;
  else if (protocol !== undefined) warnings.push(`config protocol=${protocol} ignored: expected auto, 5 or 3.1.1`);
  set("sessionExpiry", int("sessionExpiry", 0, 4294967295));
  set("ssid", text(config.ssid));
  set("wifiPassword", text(config.password));
  const device: DeviceConfig = { build, sntp: list(config.sntp), serialInput: flag(config.serialInput, true), tlsVerify: flag(config.tlsVerify, true), warnings };
  const tty = text(config.serialDevice);
  if (tty !== undefined) device.serialDevice = tty;
  return device;
}
