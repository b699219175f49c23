/**
 * NodeMCU-32S / ESP32-DevKitC (Moddable target esp32/nodemcu).
 *
 * Assumptions: the usual ESP32 I2C pins, SDA GPIO 21 and SCL GPIO 22 (what Moddable's
 * nodemcu target uses as its default bus); the on-board blue LED on GPIO 2, lit when
 * high; an SHT3x breakout (SHT30/31, ADDR pin low: 0x44) and a BMP280 breakout (SDO low:
 * 0x76) on that bus, both with their own pull-ups.
 */
import type { BoardDefinition } from "../src/app/board.js";

const board: BoardDefinition = {
  name: "esp32/nodemcu",
  i2c: { sda: 21, scl: 22, hz: 100000 },
  led: { pin: 2 },
  sensors: [
    { name: "env", driver: "sht3x", address: 0x44 },
    { name: "pressure", driver: "bmp280", address: 0x76 },
  ],
};

export default board;
