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

// ---- the 5.0 mix: PUBLISH with a Topic Alias and a User Property, PUBACK with a reason code, CONNACK with properties ----
const peerObjects5 = ops.MIX5.map((e) => {
  if (e.cmd === "publish") {
    const f = e.publish!;
    return { cmd: "publish", topic: f.topic, payload: Buffer.from(f.payload as Uint8Array), qos: f.qos, messageId: f.qos ? f.packetId : undefined, retain: false, dup: false, properties: f.properties };
  }
  if (e.cmd === "puback") return { cmd: "puback", messageId: e.ack!.packetId, reasonCode: e.ack!.reasonCode };
  return { cmd: "connack", ...e.connack! };
}) as unknown as mqttPacket.Packet[];
const v5 = { protocolVersion: 5 as const };
const m5 = ops.MIX5.length;
const peerStream5 = Buffer.concat(peerObjects5.map((o) => mqttPacket.generate(o, v5)));
const oursStream5 = Buffer.from(ops.stream5.subarray(0, ops.offsets5[m5]));
// the bytes may differ (mqtt-packet writes PUBACK 0x10 with an empty Property Length, we in
// the short form §3.4.2.2.1 allows), so the two streams must parse to the same packets
function parsed5(bytes: Buffer): string {
  const p = mqttPacket.parser({ protocolVersion: 5 });
  const out: unknown[] = [];
  p.on("packet", (x) => out.push({ ...x, length: 0 }));
  p.parse(bytes);
  return JSON.stringify(out);
}
if (parsed5(peerStream5) !== parsed5(oursStream5)) throw new Error("xsmqtt and mqtt-packet encode the 5.0 mix differently");
const peerSlices5 = peerObjects5.map((o) => mqttPacket.generate(o, v5));
let peerCount5 = 0;
const parser5 = mqttPacket.parser(v5);
parser5.on("packet", () => peerCount5++);
parser5.on("error", (e) => {
  throw e;
});
const oursEncode5 = (k: number) => {
  ops.encodeMany5(k);
};
const peerEncode5 = (k: number) => {
  for (let i = 0; i < k; i++) mqttPacket.generate(peerObjects5[i % m5], v5);
};
const oursDecode5 = (k: number) => {
  ops.decodeMany5(k);
};
const peerDecode5 = (k: number) => {
  for (let i = 0; i < k; i++) parser5.parse(peerSlices5[i % m5]);
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
  ["5.0 encode", oursEncode5, peerEncode5],
  ["5.0 decode", oursDecode5, peerDecode5],
] as const) {
  const a = best(ours);
  const b = best(peer);
  rows.push([name, a, b]);
  console.log(`${name.padEnd(22)}${fmt(a)}  ${fmt(b)}   ${(a / b).toFixed(1).padStart(6)}x`);
}
console.log("(encode: topics as cached UTF-8, the client's path; string topics: walked on every packet)");
console.log(`(5.0: the ${m5}-packet mix of PUBLISH with a Topic Alias and a User Property, PUBACK 0x10, CONNACK with 4 properties; both with protocolVersion 5;`);
console.log(" our 5.0 encode takes properties as mqtt-packet objects, whose keys XS enumerates with for-in: its heap slots below are that, not the client's path)");
if (peerCount5 === 0) throw new Error("mqtt-packet decoded no 5.0 packet");

console.log("");
console.log("XS (xsnap-worker), per packet, windows of 1,000 after warm-up, gc() first");
const worker = await startXs(path.join(here, "codec-xs-entry.js"), "bench-codec");
try {
  console.log("                            compute   heap slots   N/2 check");
  for (const [name, op] of [
    ["encode", "encodeMany"],
    ["encode, string topics", "encodeManyStrings"],
    ["decode", "decodeMany"],
    ["5.0 encode", "encodeMany5"],
    ["5.0 decode", "decodeMany5"],
  ]) {
    const c = await measure(worker, op, 1000);
    console.log(`${name.padEnd(22)}${String(c.compute).padStart(12)} ${String(c.slots).padStart(12)}   ${c.consistent ? "agrees" : "DIFFERS (collection in window?)"}`);
  }
} finally {
  await worker.close();
}
