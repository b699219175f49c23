/**
 * ESP32-C3-DevKitM-1 (Moddable target esp32/esp32c3).
 *
 * Assumptions: the I2C bus on GPIO 2 (SDA) and GPIO 3 (SCL), as Moddable's esp32c3 target
 * defines it; a TMP102 breakout (ADD0 to ground: 0x48) on it. The on-board LED is an
 * addressable RGB LED (WS2812 on GPIO 8), so there is no status LED.
 */
import type { BoardDefinition } from "../src/app/board.js";

const board: BoardDefinition = {
  name: "esp32/esp32c3",
  i2c: { sda: 2, scl: 3, hz: 100000 },
  sensors: [{ name: "temperature", driver: "tmp102", address: 0x48 }],
};

export default board;
