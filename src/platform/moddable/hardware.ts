/// <reference path="../../../typings/index.d.ts" />
/**
 * The ESP32's hardware for the board: I2C sensors through Moddable's ECMA-419 drivers, the
 * status LED, console input from the UART, restart.
 *
 * The desktop simulator has no I2C or GPIO; its manifest maps this module's name
 * (`xsmqtt/platform/moddable/hardware`) to hardware-sim.js instead, which exports the same
 * {@link createHardware}.
 */
import Digital from "embedded:io/digital";
import I2C from "embedded:io/i2c";
import SMBus from "embedded:io/smbus";
import BMP280 from "embedded:sensor/Barometer-Temperature/BMP280";
import AHT10 from "embedded:sensor/Humidity-Temperature/AHT10";
import SHT3x from "embedded:sensor/Humidity-Temperature/SHT3x";
import TMP102 from "embedded:sensor/Temperature/TMP102";
import Timer from "timer";
import type { BoardDefinition, Sample, Sensor, SensorDefinition } from "../../app/board.js";
import type { ByteInput, ByteSink } from "./terminal.js";

/** What the board gets from the hardware module. */
export interface Hardware {
  readonly sensors: Sensor[];
  readonly led?: (on: boolean) => void;
  /** Console input, or null when there is none. */
  readonly input: ByteInput | null;
  /** Restarts the device after `delay` ms (to let a last reply go out). */
  restart(delay: number): void;
}

export interface HardwareOptions {
  /** Read console lines from the UART (not in a debug build: xsbug owns the port there). */
  serialInput: boolean;
  /** Simulator only: a tty to read console lines from. */
  serialDevice?: string;
}

export type CreateHardware = (definition: BoardDefinition, options: HardwareOptions) => Hardware;

/** An open driver: `sample()` gives the driver's own nested result. */
interface Driver {
  sample(): unknown;
  close(): void;
}

interface Bus {
  data: number;
  clock: number;
  hz: number;
}

/** How to open one kind of sensor and flatten its sample into ours. */
interface DriverKind {
  /** Quantities it fills, with the decimals to publish. */
  decimals: { [quantity: string]: number };
  open(bus: Bus, address: number | undefined): Driver;
  /** Copies the reading into `into`; false when a value is missing (e.g. a failed CRC). */
  read(result: unknown, into: Sample): boolean;
}

type Nested = { thermometer?: { temperature?: number }; hygrometer?: { humidity?: number }; barometer?: { pressure?: number } };

function put(into: Sample, quantity: string, value: number | undefined): boolean {
  if (typeof value !== "number" || !Number.isFinite(value)) return false;
  into[quantity] = value;
  return true;
}

/** Temperature (°C) and relative humidity (%) from the SHT3x/AHT10 shape. */
function readHumidityTemperature(result: unknown, into: Sample): boolean {
  const r = result as Nested;
  return put(into, "temperature", r.thermometer?.temperature) && put(into, "humidity", r.hygrometer?.humidity);
}

/** Our name for each driver a board file may give, as in SensorDefinition.driver. */
export const DRIVERS: { [driver: string]: DriverKind } = {
  sht3x: {
    decimals: { temperature: 2, humidity: 1 },
    open: (bus, address) => new SHT3x({ sensor: { io: I2C, ...bus, address: address ?? 0x44 } }),
    read: readHumidityTemperature,
  },
  aht10: {
    decimals: { temperature: 2, humidity: 1 },
    open: (bus, address) => new AHT10({ sensor: { io: I2C, ...bus, address: address ?? 0x38 } }),
    read: readHumidityTemperature,
  },
  bmp280: {
    decimals: { temperature: 2, pressure: 2 },
    open: (bus, address) => new BMP280({ sensor: { io: I2C, ...bus, address: address ?? 0x76 } }),
    read(result, into) {
      const r = result as Nested;
      const pa = r.barometer?.pressure;
      // hPa, as the simulated board publishes
      return put(into, "temperature", r.thermometer?.temperature) && put(into, "pressure", typeof pa === "number" ? pa / 100 : undefined);
    },
  },
  tmp102: {
    decimals: { temperature: 2 },
    open: (bus, address) => new TMP102({ sensor: { io: SMBus, ...bus, address: address ?? 0x48 } }),
    read: (result, into) => put(into, "temperature", (result as { temperature?: number }).temperature),
  },
};

/** Longest pause, in samples, before reopening a sensor that stopped answering. */
const MAX_PAUSE = 32;

/**
 * One I2C sensor. The driver is opened on first use and closed on any error; after a
 * failure the next attempts to reopen it are spaced out (1, 2, 4 … 32 samples), because
 * opening a driver blocks for up to a few hundred ms.
 */
export class I2CSensor implements Sensor {
  readonly name: string;
  readonly decimals: { [quantity: string]: number };
  private driver: Driver | undefined;
  private pause = 0;
  private skip = 0;

  constructor(
    private readonly kind: DriverKind,
    private readonly bus: Bus,
    private readonly definition: SensorDefinition,
  ) {
    this.name = definition.name;
    this.decimals = kind.decimals;
  }

  sample(into: Sample): boolean {
    if (this.skip > 0) {
      this.skip--;
      return false;
    }
    try {
      this.driver ??= this.kind.open(this.bus, this.definition.address);
      if (this.kind.read(this.driver.sample(), into)) {
        this.pause = 0;
        return true;
      }
    } catch {
      this.closeDriver();
    }
    this.pause = this.pause === 0 ? 1 : Math.min(MAX_PAUSE, this.pause * 2);
    this.skip = this.pause - 1;
    return false;
  }

  private closeDriver(): void {
    const d = this.driver;
    this.driver = undefined;
    try {
      d?.close();
    } catch {
      // the bus may already be gone
    }
  }
}

/** Builds the board's sensors; throws for a driver we do not know or a missing I2C bus. */
export function createSensors(definition: BoardDefinition): Sensor[] {
  const i2c = definition.i2c;
  return definition.sensors.map((s) => {
    const kind = DRIVERS[s.driver];
    if (!kind) throw new Error(`board ${definition.name}: sensor "${s.name}" has unknown driver "${s.driver}" (known: ${Object.keys(DRIVERS).join(", ")})`);
    if (!i2c) throw new Error(`board ${definition.name}: sensor "${s.name}" needs an i2c bus`);
    return new I2CSensor(kind, { data: i2c.sda, clock: i2c.scl, hz: i2c.hz ?? 100000 }, s);
  });
}

/** The status LED on a GPIO; failures to drive it are ignored (it is only a light). */
function createLed(pin: number, activeLow: boolean): (on: boolean) => void {
  let led: Digital | undefined;
  return (on) => {
    try {
      led ??= new Digital({ pin, mode: Digital.Output });
      led.write(on !== activeLow ? 1 : 0);
    } catch {
      led = undefined;
    }
  };
}

/**
 * One byte from the console UART, or undefined when none is waiting: the host function of
 * the SDK's `console` module (modules/base/console/modConsole.c, linked by
 * manifest_esp32.json). It shares the UART with xsbug in a debug build, hence the
 * `serialInput` switch.
 */
const receive = native("xs_console_receive") as () => number | undefined;

/** Console bytes from the UART the firmware logs to, polled from a timer. */
class UartInput implements ByteInput {
  private readonly buffer = new Uint8Array(64);

  start(sink: ByteSink): void {
    const buffer = this.buffer;
    Timer.repeat(() => {
      for (;;) {
        let n = 0;
        while (n < buffer.length) {
          const c = receive();
          if (c === undefined) break;
          buffer[n++] = c;
        }
        if (n > 0) sink(buffer, n);
        if (n < buffer.length) return;
      }
    }, 50);
  }
}

export const createHardware: CreateHardware = (definition, options) => ({
  sensors: createSensors(definition),
  led: definition.led ? createLed(definition.led.pin, definition.led.activeLow === true) : undefined,
  input: options.serialInput ? new UartInput() : null,
  restart(delay) {
    Timer.set(() => {
      const system = globalThis.System;
      if (typeof system?.restart === "function") system.restart();
      else trace("restart: System.restart is not available in this build\n");
    }, delay);
  },
});
