/**
 * The modules the host runs on either engine (engine.ts): each names its in-process
 * maker and its compiled XS entry.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeAppOps, type LocalDevice } from "./app.js";
import { makeDriver } from "./driver.js";
import type { EngineModule, Ops } from "./engine.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The client driver (driver.ts): clients made, driven and reported as JSON. */
export const driverModule: EngineModule = {
  local: (platform, emit) => makeDriver(platform, emit) as unknown as Ops,
  entry: path.join(here, "driver-xs-entry.js"),
};

/** The firmware on the simulated host board (app.ts); `local` is what only a run on Node can use. */
export function appModule(local: LocalDevice = {}): EngineModule {
  return {
    local: (platform, emit) => makeAppOps(platform, emit, local) as unknown as Ops,
    entry: path.join(here, "app-xs-entry.js"),
  };
}
