/// <reference path="../../../typings/index.d.ts" />
/**
 * The Board the firmware runs on under Moddable, built from a board file: the client's
 * platform (TCP, timer, ticks), Wi-Fi, the SNTP clock, preferences, flash files (the
 * readings journal), the serial console, and
 * the hardware module the manifest selects (real sensors on the ESP32, simulated ones in
 * the desktop simulator).
 */
import type { Board, BoardDefinition, NetworkStatus, Storage } from "../../app/board.js";
import type { Platform } from "../../mqtt/platform.js";
import { SntpClock } from "./clock.js";
import { createDeepSleep } from "./deep-sleep.js";
import { flashFiles } from "./files.js";
import { TraceConsole } from "./terminal.js";
import { createHardware } from "./hardware.js";
import { WiFiNetwork, type WiFiCredentials } from "./network.js";
import { moddablePlatform } from "./platform.js";
import { PreferenceStorage } from "./storage.js";

export interface ModdableBoardOptions {
  /** Preference domain (default "xsmqtt"). */
  domain?: string;
  /** SNTP servers; empty to trust the system clock. */
  sntp: string[];
  /** Wi-Fi network from the build; stored settings ("ssid", "wifipass") take precedence (the Wi-Fi belongs to the board, not the app's config). */
  ssid?: string;
  wifiPassword?: string;
  serialInput: boolean;
  serialDevice?: string;
  /** `mqtts://`: verify the broker's certificate (default true). */
  tlsVerify?: boolean;
  /** Ms between a restart request and the restart, so a last reply can go out (default 1000). */
  restartDelay?: number;
}

/** Builds the board for `definition`; sensors and LED come from the hardware module the manifest maps. */
export function createModdableBoard(definition: BoardDefinition, options: ModdableBoardOptions): Board {
  const files = flashFiles();
  const deepSleep = createDeepSleep(files);
  let terminal: TraceConsole | undefined;
  const platform: Platform = deepSleep.guard(
    moddablePlatform({ tls: { verify: options.tlsVerify !== false, log: (line) => terminal?.write(`# ${line}`) } }),
  );
  const preferences = new PreferenceStorage(options.domain);
  const hardware = createHardware(definition, { serialInput: options.serialInput, serialDevice: options.serialDevice });
  const clock = new SntpClock(platform, { hosts: options.sntp });
  const wifi = new WiFiNetwork(platform, {
    // the same preference keys the app's provisioning writes (src/app/config.ts SETTINGS)
    credentials(): WiFiCredentials | null {
      const ssid = preferences.get("ssid") ?? options.ssid;
      if (!ssid) return null;
      const password = preferences.get("wifipass") ?? options.wifiPassword;
      return password ? { ssid, password } : { ssid };
    },
  });
  // a provisioned network is tried at once rather than after the current backoff
  const storage: Storage = {
    get: (key) => preferences.get(key),
    set(key, value) {
      preferences.set(key, value);
      if (key === "ssid" || key === "wifipass") wifi.credentialsChanged();
    },
    delete: (key) => preferences.delete(key),
    keys: () => preferences.keys(),
  };
  const network = {
    get connected() {
      return wifi.connected;
    },
    start(onStatus: (status: NetworkStatus, detail: string) => void) {
      wifi.start((status, detail) => {
        if (status === "connected") clock.kick();
        onStatus(status, detail);
      });
    },
  };
  const board: Board = {
    definition,
    platform,
    network,
    clock,
    storage,
    files: files ?? undefined,
    terminal: (terminal = new TraceConsole(hardware.input)),
    sensors: hardware.sensors,
    led: hardware.led,
    restart: () => hardware.restart(options.restartDelay ?? 1000),
    sleep: (ms) => deepSleep.sleep(ms),
    wake: deepSleep.wake,
  };
  hardware.led?.(false);
  return board;
}
