/**
 * ESP32-S3-DevKitC-1 (Moddable target esp32/esp32s3).
 *
 * Assumptions: the I2C bus on GPIO 4 (SDA) and GPIO 5 (SCL), as Moddable's esp32s3 target
 * defines it; an AHT10 module (fixed address 0x38) on it. The board's only LED is an
 * addressable RGB LED (WS2812 on GPIO 48), not a plain GPIO LED, so there is no status LED.
 */
import type { BoardDefinition } from "../src/app/board.js";

const board: BoardDefinition = {
  name: "esp32/esp32s3",
  i2c: { sda: 4, scl: 5, hz: 100000 },
  sensors: [{ name: "env", driver: "aht10", address: 0x38 }],
};

export default board;
