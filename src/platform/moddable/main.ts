/// <reference path="../../../typings/index.d.ts" />
/**
 * The firmware's entry on Moddable (the manifest's `creation.main`): reads the build's
 * config, builds the board the manifest selected (`xsmqtt-board`) and starts the app.
 */
import config from "mc/config";
import Net from "net";
import definition from "xsmqtt-board";
import { startApp } from "../../app/app.js";
import { createModdableBoard } from "./board.js";
import { readDeviceConfig } from "./config.js";

/** `xsmqtt-` and the last three bytes of the MAC address: unique per device, stable across flashes. */
function macDeviceId(): string | undefined {
  try {
    const mac = Net.get("MAC");
    if (typeof mac !== "string") return undefined;
    const hex = mac.replace(/[^0-9a-fA-F]/g, "").toLowerCase();
    return hex.length >= 6 ? `xsmqtt-${hex.slice(-6)}` : undefined;
  } catch {
    return undefined;
  }
}

export default function main(): void {
  const device = readDeviceConfig(config);
  const board = createModdableBoard(definition, {
    sntp: device.sntp,
    ssid: device.build.ssid,
    wifiPassword: device.build.wifiPassword,
    serialInput: device.serialInput,
    serialDevice: device.serialDevice,
    tlsVerify: device.tlsVerify,
  });
  for (const w of device.warnings) board.terminal.write(`# ${w}`);
  const build = device.build;
  if (build.deviceId === undefined) {
    const id = macDeviceId();
    if (id !== undefined) build.deviceId = id;
  }
  startApp(board, build);
}
