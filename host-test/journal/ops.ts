/** The journal suite's ops: run one case by its title (it throws on a failed check); list the titles. */
import { CASES } from "./cases.js";

export function titles(): string[] {
  return Object.keys(CASES);
}

export function run(title: string): string {
  const c = CASES[title];
  if (!c) throw new Error(`no case "${title}"`);
  c();
  return "ok";
}
