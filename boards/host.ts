/**
 * The simulated host board: what `npm start`, the host tests and the Moddable desktop
 * simulator run on. Sensors drift around their base values; tests can make one fail.
 */
import type { BoardDefinition } from "../src/app/board.js";

const host: BoardDefinition = {
  name: "host",
  sensors: [
    {
      name: "env",
      driver: "simulated",
      simulate: {
        temperature: { base: 21.5, drift: 0.2, decimals: 2 },
        humidity: { base: 45, drift: 0.8, decimals: 1 },
      },
    },
    {
      name: "pressure",
      driver: "simulated",
      simulate: { pressure: { base: 1013.2, drift: 0.3, decimals: 1 } },
    },
  ],
};

export default host;
