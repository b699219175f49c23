/// <reference path="../../../typings/index.d.ts" />
/**
 * Settings in Moddable's `preference` store (NVS on the ESP32, a JSON file in the desktop
 * simulator), all under one domain, values as strings.
 */
import Preference from "preference";
import type { Storage } from "../../app/board.js";

/** ESP32 NVS limits: names up to 15 characters, string values up to 4000 bytes. */
export const MAX_KEY = 15;

/** The board's Storage: one preference domain, string values. */
export class PreferenceStorage implements Storage {
  constructor(readonly domain = "xsmqtt") {
    checkName(domain, "domain");
  }

  get(key: string): string | undefined {
    checkName(key, "key");
    const v = Preference.get(this.domain, key);
    return v === undefined || v instanceof ArrayBuffer ? undefined : String(v);
  }

  /** Throws RangeError for a key NVS cannot hold, and whatever the store throws when full. */
  set(key: string, value: string): void {
    checkName(key, "key");
    Preference.set(this.domain, key, value);
  }

  delete(key: string): void {
    checkName(key, "key");
    Preference.delete(this.domain, key);
  }

  keys(): string[] {
    return Preference.keys(this.domain);
  }
}

function checkName(name: string, what: string): void {
  if (name.length === 0 || name.length > MAX_KEY) throw new RangeError(`preference ${what} "${name}" must be 1 to ${MAX_KEY} characters`);
}
