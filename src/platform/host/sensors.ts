/**
 * Simulated sensors for the host board (and the Moddable desktop simulator): values walk
 * randomly around a base, pulled back towards it, like a room's temperature. A test can
 * make a sensor stop answering with `faulty = true`. Plain ECMAScript.
 */
import type { BoardDefinition, Sample, Sensor } from "../../app/board.js";

export class SimulatedSensor implements Sensor {
  /** When true the sensor does not answer: sample() returns false. */
  faulty = false;
  readonly decimals: { [quantity: string]: number } = {};
  private readonly quantities: string[];
  private readonly values: number[];
  private readonly bases: number[];
  private readonly drifts: number[];

  constructor(
    readonly name: string,
    spec: { [quantity: string]: { base: number; drift: number; decimals?: number } },
    private readonly random: () => number,
  ) {
    this.quantities = Object.keys(spec);
    this.bases = this.quantities.map((q) => spec[q].base);
    this.drifts = this.quantities.map((q) => spec[q].drift);
    this.values = this.bases.slice();
    for (const q of this.quantities) this.decimals[q] = spec[q].decimals ?? 2;
  }

  sample(into: Sample): boolean {
    if (this.faulty) return false;
    for (let i = 0; i < this.quantities.length; i++) {
      let v = this.values[i] + (this.random() - 0.5) * 2 * this.drifts[i];
      v += (this.bases[i] - v) * 0.05;
      this.values[i] = v;
      into[this.quantities[i]] = v;
    }
    return true;
  }
}

/** The simulated sensors a board definition lists (driver "simulated"). */
export function createSimulatedSensors(definition: BoardDefinition, random: () => number = Math.random): SimulatedSensor[] {
  return definition.sensors.filter((s) => s.driver === "simulated" && s.simulate).map((s) => new SimulatedSensor(s.name, s.simulate!, random));
}
