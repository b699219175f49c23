/**
 * Firmware configuration: defaults, the build's config (Moddable manifest "config", or
 * the host runner's options), then stored preferences on top. Stored keys are at most 15
 * characters (ESP32 preference names).
 */
import type { BrokerAddress } from "../mqtt/platform.js";
import { validateTopic } from "../mqtt/topic.js";
import type { Storage } from "./board.js";
import { DEFAULT_DISCOVERY_PREFIX } from "./discovery.js";

/** What a build may set. */
export interface BuildConfig {
  deviceId?: string;
  /** Broker URLs: mqtt://host[:port] or mqtts://host[:port]. */
  brokers?: string[];
  username?: string;
  password?: string;
  /** Topic prefix: readings go to `<prefix>/<deviceId>/<sensor>`. */
  prefix?: string;
  /** Milliseconds between samples. */
  interval?: number;
  /** QoS of readings, 0, 1 or 2. */
  qos?: number;
  ssid?: string;
  wifiPassword?: string;
  /** Offline queue budget in bytes. */
  outboxBytes?: number;
  /** Home Assistant discovery prefix (default "homeassistant"), or "off". */
  discovery?: string;
  /** Battery mode: seconds of deep sleep between wakes (0, the default: always on). */
  sleep?: number;
  /** Battery mode: the longest a wake lasts, ms (default 15000); what is not sent by then waits on flash. */
  awake?: number;
  /**
   * MQTT version: "auto" (the default) tries 5.0 and falls back to 3.1.1 when a broker
   * refuses it, remembered for that broker until restart; "5" or "3.1.1" only that one.
   */
  protocol?: Protocol;
  /** MQTT 5: seconds the broker keeps the session after the connection ends (default 86400, at least twice `sleep`). */
  sessionExpiry?: number;
}

/** The settings the app runs with (the Wi-Fi ones are the board's: see src/platform/moddable/board.ts). */
export interface AppConfig {
  deviceId: string;
  brokers: BrokerAddress[];
  username: string | null;
  password: string | null;
  prefix: string;
  interval: number;
  qos: number;
  outboxBytes: number;
  /** Home Assistant discovery prefix; null when off. */
  discovery: string | null;
  /** Seconds of deep sleep between wakes; 0 when always on. */
  sleep: number;
  /** The longest a wake lasts in battery mode, ms. */
  awake: number;
  protocol: Protocol;
  /** MQTT 5 Session Expiry Interval, seconds. */
  sessionExpiry: number;
}

export type Protocol = "auto" | "5" | "3.1.1";
const PROTOCOLS: readonly string[] = ["auto", "5", "3.1.1"];

/** Preference keys, and the BuildConfig field each overrides. */
export const SETTINGS = {
  deviceid: "deviceId",
  broker: "brokers",
  user: "username",
  pass: "password",
  prefix: "prefix",
  interval: "interval",
  qos: "qos",
  ssid: "ssid",
  wifipass: "wifiPassword",
  discovery: "discovery",
  sleep: "sleep",
  protocol: "protocol",
  sessionexpiry: "sessionExpiry",
} as const;
export type SettingKey = keyof typeof SETTINGS;

/** True for a key of {@link SETTINGS} itself ("toString" and the other keys of Object.prototype are not settings). */
export function isSetting(key: string): key is SettingKey {
  return Object.prototype.hasOwnProperty.call(SETTINGS, key);
}

/** Parses mqtt://host[:port] (1883) or mqtts://host[:port] (8883); throws a readable Error. */
export function parseBrokerUrl(url: string): BrokerAddress {
  const m = /^(mqtts?|tcp|ssl):\/\/(\[[^\]]+\]|[^:/?#]+)(?::(\d+))?\/?$/.exec(url.trim());
  if (!m) throw new Error(`not a broker URL: "${url}" (expected mqtt://host[:port] or mqtts://host[:port])`);
  const tls = m[1] === "mqtts" || m[1] === "ssl";
  const port = m[3] ? Number(m[3]) : tls ? 8883 : 1883;
  if (!(port > 0 && port < 65536)) throw new Error(`broker port out of range in "${url}"`);
  const host = m[2].startsWith("[") ? m[2].slice(1, -1) : m[2];
  return tls ? { host, port, tls: true } : { host, port };
}

/** Checks one setting's value; returns an error message or null. */
export function checkSetting(key: string, value: string): string | null {
  if (!isSetting(key)) return `unknown setting "${key}" (known: ${Object.keys(SETTINGS).join(", ")})`;
  switch (key as SettingKey) {
    case "broker":
      try {
        for (const u of value.split(",")) parseBrokerUrl(u);
      } catch (e) {
        return (e as Error).message;
      }
      return null;
    case "interval": {
      const n = Number(value);
      return Number.isInteger(n) && n >= 100 && n <= 86400000 ? null : "interval must be whole milliseconds, 100 to 86400000";
    }
    case "qos":
      return value === "0" || value === "1" || value === "2" ? null : "qos must be 0, 1 or 2";
    case "deviceid":
    case "prefix":
      try {
        validateTopic(value);
      } catch {
        return `${key} must be usable in a topic (no + or #, not empty)`;
      }
      return value.includes("/") && key === "deviceid" ? "deviceid may not contain /" : null;
    case "sleep": {
      const n = Number(value);
      return Number.isInteger(n) && n >= 0 && n <= 604800 ? null : "sleep must be whole seconds, 0 (always on) to 604800";
    }
    case "protocol":
      return PROTOCOLS.indexOf(value) >= 0 ? null : 'protocol must be "auto", "5" or "3.1.1"';
    case "sessionexpiry": {
      const n = Number(value);
      return Number.isInteger(n) && n >= 0 && n <= 4294967295 ? null : "sessionexpiry must be whole seconds, 0 to 4294967295";
    }
    case "discovery":
      try {
        if (value !== "off") validateTopic(value);
      } catch {
        return 'discovery must be a topic prefix (no + or #, not empty) or "off"';
      }
      return null;
    default:
      return null;
  }
}

/** The discovery setting as a prefix: "homeassistant" when not given, null for "off". */
function discoveryPrefix(value: string | undefined): string | null {
  if (value === undefined) return DEFAULT_DISCOVERY_PREFIX;
  return value === "off" ? null : value;
}

/** Defaults ← build config ← stored settings. */
export function resolveConfig(build: BuildConfig, storage: Storage, fallbackId: string): AppConfig {
  const stored = (k: SettingKey) => {
    const v = storage.get(k);
    return v !== undefined && checkSetting(k, v) === null ? v : undefined;
  };
  const brokers = stored("broker")?.split(",") ?? build.brokers ?? ["mqtt://127.0.0.1:1883"];
  const sleep = Number(stored("sleep") ?? build.sleep ?? 0);
  const protocol = stored("protocol") ?? build.protocol ?? "auto";
  if (PROTOCOLS.indexOf(protocol) < 0) throw new Error(`protocol must be "auto", "5" or "3.1.1", not "${protocol}"`);
  return {
    deviceId: stored("deviceid") ?? build.deviceId ?? fallbackId,
    brokers: brokers.map(parseBrokerUrl),
    username: stored("user") ?? build.username ?? null,
    password: stored("pass") ?? build.password ?? null,
    prefix: stored("prefix") ?? build.prefix ?? "xsmqtt",
    interval: Number(stored("interval") ?? build.interval ?? 10000),
    qos: Number(stored("qos") ?? build.qos ?? 1),
    outboxBytes: build.outboxBytes ?? 16384,
    discovery: discoveryPrefix(stored("discovery") ?? build.discovery),
    sleep,
    awake: build.awake ?? 15000,
    protocol: protocol as Protocol,
    sessionExpiry: Number(stored("sessionexpiry") ?? build.sessionExpiry ?? Math.max(86400, 2 * sleep)),
  };
}
