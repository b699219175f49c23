/** What a suite needs from the machine, and what it does when that is missing. */
import { mosquittoPath } from "../tools/runtime/brokers.js";

/**
 * In a suite's `before`: skips the suite when mosquitto is absent, except under CI
 * (CI set), where a missing mosquitto fails the run instead.
 */
export function requireMosquitto(ctx: Mocha.Context): string {
  const p = mosquittoPath();
  if (p) return p;
  if (process.env.CI) throw new Error("mosquitto is not installed (apt-get install mosquitto); CI must run these tests");
  ctx.skip();
  return "";
}
