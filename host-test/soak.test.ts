/**
 * A one-minute soak (tools/soak.ts) per engine, the engines side by side in their own
 * processes: QoS 1 and QoS 2 traffic through random faults must lose nothing, QoS 2 must
 * arrive exactly once, and memory must not grow. The full figures are printed; longer soaks are `npm run soak -- --minutes N`.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { SoakResult } from "../tools/soak.js";
import { ENGINES } from "./engines.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const soakJs = path.join(here, "../tools/soak.js");

function soak(engine: string, seed: number): Promise<{ code: number | null; result: SoakResult | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [soakJs, "--minutes", "1", "--engine", engine, "--seed", String(seed)], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("exit", (code) => {
      const line = output.split("\n").find((l) => l.startsWith("SOAK-RESULT "));
      resolve({ code, result: line ? (JSON.parse(line.slice("SOAK-RESULT ".length)) as SoakResult) : null, output });
    });
  });
}

describe("soak", function () {
  this.timeout(120000);

  it(`one minute of QoS 1 and 2 through random faults on ${ENGINES.join(" and ")}: nothing lost, QoS 2 never duplicated, memory flat`, async () => {
    const runs = await Promise.all(ENGINES.map((e, i) => soak(e, 1000 + i).then((r) => ({ engine: e, ...r }))));
    for (const { engine, code, result, output } of runs) {
      for (const line of output.split("\n")) if (line && !line.startsWith("SOAK-RESULT")) console.log(`      [${engine}] ${line}`);
      assert.ok(result, `no result from the ${engine} soak:\n${output}`);
      assert.equal(result.lost, 0, `${engine}: messages lost`);
      assert.equal(result.qos2Lost, 0, `${engine}: QoS 2 messages lost`);
      assert.equal(result.qos2Duplicated, 0, `${engine}: QoS 2 messages duplicated`);
      assert.ok(result.qos2Sent > 2000, `${engine}: only ${result.qos2Sent} QoS 2 messages`);
      assert.ok(result.memoryJudged);
      assert.equal(result.memoryGrows, false, `${engine}: memory grows ${result.dataSlopeMBPerMin.toFixed(3)} MB/min, ${result.slotSlopePerMin.toFixed(1)} slots/min`);
      assert.ok(result.sent > 5000, `${engine}: only ${result.sent} messages`);
      assert.ok(result.received >= result.sent);
      assert.ok(result.reconnects >= 1, `${engine}: the faults never broke a connection`);
      assert.ok(Object.values(result.faults).reduce((a, b) => a + b, 0) >= 8, `${engine}: faults ${JSON.stringify(result.faults)}`);
      assert.equal(code, 0);
    }
  });
});
