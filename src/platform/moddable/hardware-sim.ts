/// <reference path="../../../typings/index.d.ts" />
/**
 * The desktop simulator's stand-in for hardware.ts (the manifest maps
 * `xsmqtt/platform/moddable/hardware` to this file on lin/mac/win): simulated sensors from
 * the board file, an LED that traces its state, console input from a tty when one
 * is configured (`serialDevice=/dev/pts/N`, e.g. one end of a socat pty pair), and a
 * restart that cannot happen.
 */
import Serial from "embedded:io/serial";
import { createSimulatedSensors } from "../host/sensors.js";
import type { ByteInput, ByteSink } from "./terminal.js";
import type { CreateHardware } from "./hardware.js";

/** Console bytes from a tty through ECMA-419 serial. */
class TtyInput implements ByteInput {
  constructor(private readonly device: string) {}

  start(sink: ByteSink): void {
    try {
      new Serial({
        device: this.device,
        baud: 115200,
        onReadable() {
          const data = this.read();
          if (data) sink(new Uint8Array(data), data.byteLength);
        },
      });
    } catch (e) {
      trace(`# console input: cannot open ${this.device}: ${(e as Error).message}\n`);
    }
  }
}

export const createHardware: CreateHardware = (definition, options) => ({
  sensors: createSimulatedSensors(definition),
  led: (on) => trace(on ? "# led on\n" : "# led off\n"),
  input: options.serialDevice ? new TtyInput(options.serialDevice) : null,
  restart() {
    trace("# restart requested: the simulator cannot restart; quit and run it again\n");
  },
});
