/**
 * The end-to-end benchmark's message, shared by its Node half (e2e.ts) and its XS half
 * (client-ops.ts): one topic and a 48-byte payload. Plain ECMAScript, no side effects.
 */
export const TOPIC = "sensors/esp32-01/temperature";
export const FILTER = "sensors/+/temperature";
export const PAYLOAD = new Uint8Array(48);
for (let j = 0; j < PAYLOAD.length; j++) PAYLOAD[j] = 0x30 + (j % 10);
