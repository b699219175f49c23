/**
 * M5Stack Core2 (Moddable target esp32/m5stack_core2).
 *
 * The Core2 has two I2C buses. The internal one (SDA GPIO 21, SCL GPIO 22) carries the
 * AXP192 power manager (0x34), the BM8563 RTC (0x51), the touch controller (0x38) and the
 * MPU6886 IMU (0x68); Moddable's target setup drives the power manager over it. The red
 * Grove "Port A" is a separate bus on SDA GPIO 32, SCL GPIO 33 (Moddable's
 * `device.I2C.default` for this target).
 *
 * Assumption: an M5Stack ENV II unit plugged into Port A, which holds an SHT30 (0x44) and
 * a BMP280 (0x76). We use Port A so that our sensors never share a bus with the power
 * manager. There is no user LED (the green LED belongs to the power manager).
 */
import type { BoardDefinition } from "../src/app/board.js";

const board: BoardDefinition = {
  name: "esp32/m5stack_core2",
  i2c: { sda: 32, scl: 33, hz: 100000 },
  sensors: [
    { name: "env", driver: "sht3x", address: 0x44 },
    { name: "pressure", driver: "bmp280", address: 0x76 },
  ],
};

export default board;
