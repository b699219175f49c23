/**
 * npm run bench:codec — the codec against mqtt-packet, same packet mix, same process; then
 * XS's meter per encode and per decode. A benchmark, not a test: it prints, it does not assert.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import mqttPacket from "mqtt-packet";
import { startXs } from "../runtime/xs/worker.js";
import * as ops from "./codec-ops.js";
import { measure } from "./meter.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const seconds = Number(process.env.BENCH_SECONDS ?? 1);

/** The same mix as mqtt-packet objects. */
const peerObjects = ops.MIX.map((e) =>
  e.cmd === "publish"
    ? { cmd: "publish" as const, topic: e.topic!, payload: Buffer.from(e.payload!), qos: e.qos as 0 | 1, messageId: e.qos ? e.id : undefined, retain: false, dup: false }
    : e.cmd === "puback"
      ? { cmd: "puback" as const, messageId: e.id }
      : { cmd: "pingreq" as const },
);
const peerStream = Buffer.concat(peerObjects.map((o) => mqttPacket.generate(o as mqttPacket.Packet)));
const oursStream = Buffer.from(ops.stream.subarray(0, ops.offsets[ops.offsets.length - 1]));
if (!peerStream.equals(oursStream)) throw new Error("xsmqtt and mqtt-packet encode the mix differently");

/** Runs `batch(k)` (which performs k packets) for about `seconds`; returns packets per second. */
function rate(batch: (k: number) => void): number {
  const k = 10000;
  batch(k); // warm-up
  let n = 0;
  const t0 = process.hrtime.bigint();
  let t = t0;
  while (t - t0 < BigInt(seconds * 1e9)) {
    batch(k);
    n += k;
    t = process.hrtime.bigint();
  }
  return n / (Number(t - t0) / 1e9);
}

const m = ops.MIX.length;
const oursEncode = (k: number) => {
  ops.encodeMany(k);
};
const peerEncode = (k: number) => {
  for (let i = 0; i < k; i++) mqttPacket.generate(peerObjects[i % m] as mqttPacket.Packet);
};
const oursEncodeStrings = (k: number) => {
  ops.encodeManyStrings(k);
};
const oursDecode = (k: number) => {
  ops.decodeMany(k);
};
let peerCount = 0;
const parser = mqttPacket.parser({ protocolVersion: 4 });
parser.on("packet", () => peerCount++);
parser.on("error", (e) => {
  throw e;
});
const peerSlices = ops.MIX.map((_, i) => peerStream.subarray(ops.offsets[i], ops.offsets[i + 1]));
const peerDecode = (k: number) => {
  for (let i = 0; i < k; i++) parser.parse(peerSlices[i % m]);
};

function best(f: (k: number) => void, rounds = 3): number {
  let b = 0;
  for (let r = 0; r < rounds; r++) b = Math.max(b, rate(f));
  return b;
}

const fmt = (x: number) => Math.round(x).toLocaleString("en-US").padStart(12);
console.log(`codec benchmark: ${m}-packet mix (${ops.MIX.filter((e) => e.cmd === "publish").length} PUBLISH QoS 0/1, 16-256 B payloads; PUBACK; PINGREQ), Node ${process.version}`);
console.log("");
console.log("Node, packets per second (best of 3 rounds of ~" + seconds + " s)");
console.log("                             xsmqtt   mqtt-packet     ratio");
const rows: [string, number, number][] = [];
for (const [name, ours, peer] of [
  ["encode", oursEncode, peerEncode],
  ["encode, string topics", oursEncodeStrings, peerEncode],
  ["decode", oursDecode, peerDecode],
] as const) {
  const a = best(ours);
  const b = best(peer);
  rows.push([name, a, b]);
  console.log(`${name.padEnd(22)}${fmt(a)}  ${fmt(b)}   ${(a / b).toFixed(1).padStart(6)}x`);
}
console.log("(encode: topics as cached UTF-8, the client's path; string topics: walked on every packet)");

console.log("");
console.log("XS (xsnap-worker), per packet, windows of 1,000 after warm-up, gc() first");
const worker = await startXs(path.join(here, "codec-xs-entry.js"), "bench-codec");
try {
  console.log("                            compute   heap slots   N/2 check");
  for (const [name, op] of [
    ["encode", "encodeMany"],
    ["encode, string topics", "encodeManyStrings"],
    ["decode", "decodeMany"],
  ]) {
    const c = await measure(worker, op, 1000);
    console.log(`${name.padEnd(22)}${String(c.compute).padStart(12)} ${String(c.slots).padStart(12)}   ${c.consistent ? "agrees" : "DIFFERS (collection in window?)"}`);
  }
} finally {
  await worker.close();
}
