/**
 * The board abstraction the firmware runs on. A device board (src/platform/moddable)
 * and the simulated host board (src/platform/host) both provide it; the app knows nothing
 * else about the hardware. Plain ECMAScript types only.
 */
import type { Platform } from "../mqtt/platform.js";

/** Which sensor sits where: the data of a board file under boards/. */
export interface SensorDefinition {
  /** Name used in topics: `<prefix>/<deviceId>/<name>`. */
  name: string;
  /** Driver: "sht3x", "aht10", "bmp280", "tmp102" on devices; "simulated" on the host. */
  driver: string;
  /** I2C address. */
  address?: number;
  /** Simulated sensors: the quantities they produce, with a base value and drift. */
  simulate?: { [quantity: string]: { base: number; drift: number; decimals?: number } };
}

/** One board file: pins, buses, sensors. Adding a board is adding one of these. */
export interface BoardDefinition {
  /** e.g. "esp32/nodemcu"; also the Moddable platform/subplatform it builds for. */
  name: string;
  i2c?: { sda: number; scl: number; hz?: number };
  led?: { pin: number; activeLow?: boolean };
  sensors: SensorDefinition[];
}

/** Readings of one sample: quantity name → value. The same object is refilled each sample. */
export interface Sample {
  [quantity: string]: number;
}

export interface Sensor {
  readonly name: string;
  /**
   * Decimals to publish per quantity (default 2). Its keys are the quantities the sensor
   * produces: Home Assistant discovery announces one entity for each (src/app/discovery.ts).
   */
  readonly decimals?: { [quantity: string]: number };
  /**
   * Fills `into` with fresh values and returns true, or returns false when the sensor did
   * not answer (the app reports it; it never throws through the app).
   */
  sample(into: Sample): boolean;
}

export type NetworkStatus = "connecting" | "connected" | "disconnected";

/** Wi-Fi on a device; simulated (with drop-outs tests can trigger) on the host. */
export interface Network {
  readonly connected: boolean;
  /** Joins and keeps rejoining with backoff; reports every status change. */
  start(onStatus: (status: NetworkStatus, detail: string) => void): void;
}

/** Wall-clock time for readings: SNTP on a device. */
export interface WallClock {
  /** Milliseconds since 1970 when synchronized, else -1. */
  now(): number;
  readonly synchronized: boolean;
  /** Starts synchronizing; `onSync` runs when time is known. */
  start(onSync: () => void): void;
}

/** Settings that survive a restart: Moddable `preference` on a device, a file on the host. */
export interface Storage {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
  delete(key: string): void;
  keys(): string[];
}

/**
 * One open file on flash (littlefs on an ESP32, a folder on the host). Positions and
 * sizes are bytes; a method that cannot do its work throws.
 */
export interface StoredFile {
  /** The file's length. */
  size(): number;
  /** Reads into all of `into` from `position`, or to the end of the file; returns the count read. */
  read(into: Uint8Array, position: number): number;
  /** Writes all of `bytes` at `position` (the file grows as needed). */
  write(bytes: Uint8Array, position: number): void;
  /** Cuts the file to `length` bytes. */
  truncate(length: number): void;
  /** Makes what was written durable (littlefs: commits it; posix: fsync). */
  sync(): void;
  close(): void;
}

/**
 * Files that survive a reboot, for data too big or too busy for settings: the readings
 * journal (src/app/journal.ts). Names are plain file names, no folders.
 */
export interface Files {
  /** Opens `name` for reading and writing. A missing file is created when `create`, else the answer is null. */
  open(name: string, create: boolean): StoredFile | null;
  /** Removes `name`; no error when it is missing. */
  remove(name: string): void;
  /** Renames `from` to `to`, replacing `to` in one step. */
  rename(from: string, to: string): void;
}

/** The serial console: log lines out, command lines in (provisioning). */
export interface SerialConsole {
  write(line: string): void;
  onLine(handler: (line: string) => void): void;
}

export interface Board {
  readonly definition: BoardDefinition;
  /** Transport, timer and monotonic clock for the MQTT client and the app's timers. */
  readonly platform: Platform;
  readonly network: Network;
  readonly clock: WallClock;
  readonly storage: Storage;
  /** Files on flash; without them, readings held through an outage live in RAM only. */
  readonly files?: Files;
  readonly terminal: SerialConsole;
  readonly sensors: Sensor[];
  /** Status LED, when the board has one. */
  led?(on: boolean): void;
  restart(): void;
  /**
   * Deep sleep for `ms` (battery mode): the board powers down and boots again when the time
   * is up, with only what is on flash and in settings; nothing in RAM survives, and this
   * does not return on a device. Absent: the board cannot sleep (battery mode is refused).
   */
  sleep?(ms: number): void;
  /** Why this boot happened: "timer" after a deep sleep, "power-on" for a cold start or reset, "other". */
  readonly wake?: WakeReason;
}

export type WakeReason = "timer" | "power-on" | "other";
