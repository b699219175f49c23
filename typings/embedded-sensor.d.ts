/**
 * Moddable's ECMA-419 sensor drivers for the sensors our board files name. Each takes the
 * IO class and its options under `sensor` (pins, hz, address); the constructor already
 * talks to the device, so it throws when the device does not answer, as `sample()` does.
 */

/** The `sensor` option: the bus class and what its constructor takes. */
interface SensorBus<IO> {
  io: IO;
  data: number;
  clock: number;
  hz?: number;
  address?: number;
  port?: number;
}

declare module "embedded:sensor/Humidity-Temperature/SHT3x" {
  import type I2C from "embedded:io/i2c";
  /** Sensirion SHT30/31/35, default address 0x44. A value whose CRC fails is left out. */
  export default class SHT3x {
    constructor(options: { sensor: SensorBus<typeof I2C>; onError?(message: string): void });
    sample(): { hygrometer: { humidity?: number }; thermometer: { temperature?: number } };
    close(): void;
  }
}

declare module "embedded:sensor/Humidity-Temperature/AHT10" {
  import type I2C from "embedded:io/i2c";
  /** Aosong AHT10, address 0x38. */
  export default class AHT10 {
    constructor(options: { sensor: SensorBus<typeof I2C> });
    sample(): { hygrometer: { humidity: number }; thermometer: { temperature: number } };
    close(): void;
  }
}

declare module "embedded:sensor/Barometer-Temperature/BMP280" {
  import type I2C from "embedded:io/i2c";
  /** Bosch BMP280, default address 0x76; throws "unexpected sensor" for another chip id. Pressure in Pa. */
  export default class BMP280 {
    constructor(options: { sensor: SensorBus<typeof I2C> });
    sample(): { barometer: { pressure: number }; thermometer: { temperature: number } };
    close(): void;
  }
}

declare module "embedded:sensor/Temperature/TMP102" {
  import type SMBus from "embedded:io/smbus";
  /** TI TMP102 over SMBus, default address 0x48. */
  export default class TMP102 {
    constructor(options: { sensor: SensorBus<typeof SMBus> });
    sample(): { temperature: number; alert: boolean };
    close(): void;
  }
}
