/**
 * The codec suite. Every case runs on Node and inside XS (the same compiled ops.ts), so a
 * case that passes on one engine and fails on the other fails the run.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import * as ops from "./codec/ops.js";
import type { Outcome, RoundTrip } from "./codec/ops.js";
import type { PacketObject } from "../tools/inspect.js";
import { ENGINES, openEngine, type Engine } from "./engines.js";

/** Byte-exact vectors written from the MQTT 3.1.1 specification's field descriptions. */
const VECTORS: [string, PacketObject, string][] = [
  [
    "CONNECT, clean session, keepalive 60 (§3.1)",
    { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 60, clientId: "esp32" },
    "1011 00044d515454 04 02 003c 00056573703332",
  ],
  [
    "CONNECT with will (QoS 1, retain), user name, password, clean session off (§3.1.2.3-§3.1.2.9)",
    {
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clean: false,
      keepalive: 300,
      clientId: "c",
      will: { topic: "w", payload: "627965", qos: 1, retain: true },
      username: "user",
      password: "7077",
    },
    "101f 00044d515454 04 ec 012c 000163 000177 0003627965 000475736572 00027077",
  ],
  ["CONNACK, session present, accepted (§3.2)", { cmd: "connack", sessionPresent: true, returnCode: 0 }, "2002 01 00"],
  ["CONNACK, not authorized (§3.2.2.3)", { cmd: "connack", sessionPresent: false, returnCode: 5 }, "2002 00 05"],
  [
    "PUBLISH QoS 0 (§3.3)",
    { cmd: "publish", retain: false, qos: 0, dup: false, topic: "a/b", payload: "6869" },
    "3007 0003612f62 6869",
  ],
  [
    "PUBLISH QoS 1, DUP, RETAIN, packet id 10 (§3.3.1)",
    { cmd: "publish", retain: true, qos: 1, dup: true, topic: "a", payload: "78", messageId: 10 },
    "3b06 000161 000a 78",
  ],
  [
    "PUBLISH QoS 2, empty payload (§3.3.3)",
    { cmd: "publish", retain: false, qos: 2, dup: false, topic: "t", payload: "", messageId: 1 },
    "3405 000174 0001",
  ],
  [
    "PUBLISH with a non-ASCII topic (§1.5.3)",
    { cmd: "publish", retain: false, qos: 0, dup: false, topic: "é/€/𝄞", payload: "" },
    "300d 000b c3a9 2f e282ac 2f f09d849e",
  ],
  ["PUBACK (§3.4)", { cmd: "puback", messageId: 10 }, "4002 000a"],
  ["PUBREC (§3.5)", { cmd: "pubrec", messageId: 256 }, "5002 0100"],
  ["PUBREL, flags 0010 (§3.6.1)", { cmd: "pubrel", messageId: 65535 }, "6202 ffff"],
  ["PUBCOMP (§3.7)", { cmd: "pubcomp", messageId: 1 }, "7002 0001"],
  [
    "SUBSCRIBE, flags 0010, two filters (§3.8)",
    { cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "a/#", qos: 1 }, { topic: "+/b", qos: 0 }] },
    "820e 0001 0003612f23 01 00032b2f62 00",
  ],
  ["SUBACK with a failure code (§3.9)", { cmd: "suback", messageId: 1, granted: [1, 0x80] }, "9004 0001 01 80"],
  ["UNSUBSCRIBE, flags 0010 (§3.10)", { cmd: "unsubscribe", messageId: 2, unsubscriptions: ["a/#"] }, "a207 0002 0003612f23"],
  ["UNSUBACK (§3.11)", { cmd: "unsuback", messageId: 2 }, "b002 0002"],
  ["PINGREQ (§3.12)", { cmd: "pingreq" }, "c000"],
  ["PINGRESP (§3.13)", { cmd: "pingresp" }, "d000"],
  ["DISCONNECT (§3.14)", { cmd: "disconnect" }, "e000"],
];

/** Inputs 3.1.1 forbids, and the code that must name the rule. */
const MALFORMED: [string, string, string][] = [
  ["remaining length of five bytes (§2.2.3)", "30 80 80 80 80 01", "MalformedRemainingLength"],
  ["packet type 0 (§2.2.1)", "00 00", "UnknownPacketType"],
  ["packet type 15 (§2.2.1)", "f0 00", "UnknownPacketType"],
  ["PUBREL with flags 0000 (§3.6.1)", "60 02 00 01", "InvalidFlags"],
  ["SUBSCRIBE with flags 0000 (§3.8.1)", "80 06 0001 000161 00", "InvalidFlags"],
  ["PINGREQ with flags set (§2.2.2)", "c1 00", "InvalidFlags"],
  ["PUBLISH QoS 3 (§3.3.1.2)", "36 05 000161 0001", "InvalidQoS"],
  ["PUBACK with packet id 0 (§2.3.1)", "40 02 0000", "InvalidPacketId"],
  ["PUBLISH QoS 1 with packet id 0 (§2.3.1)", "32 05 000174 0000", "InvalidPacketId"],
  ["SUBACK with packet id 0", "90 03 0000 00", "InvalidPacketId"],
  ["PUBLISH topic length past the packet", "30 03 0005 61", "LengthOverrun"],
  ["PUBLISH QoS 1 without room for the id", "32 03 000161", "LengthOverrun"],
  ["PUBACK with remaining length 3", "40 03 000100", "InvalidLength"],
  ["PINGRESP with a body", "d0 01 00", "InvalidLength"],
  ["topic with an overlong encoding (§1.5.3)", "30 04 0002 c080", "MalformedUtf8"],
  ["topic with U+0000 (§1.5.3)", "30 03 0001 00", "MalformedUtf8"],
  ["topic with a surrogate, U+D800 (§1.5.3)", "30 05 0003 eda080", "MalformedUtf8"],
  ["topic cut inside a multi-byte character", "30 03 0001 e2", "MalformedUtf8"],
  ["topic with a wildcard (§3.3.2.1)", "30 03 0001 2b", "InvalidTopic"],
  ["empty topic (§4.7.3)", "30 02 0000", "InvalidTopic"],
  ["CONNACK return code 6 (§3.2.2.3)", "20 02 00 06", "InvalidReturnCode"],
  ["CONNACK reserved flag bits (§3.2.2.1)", "20 02 02 00", "InvalidFlags"],
  ["SUBACK return code 3 (§3.9.3)", "90 03 0001 03", "InvalidReturnCode"],
  ["SUBSCRIBE without a filter (§3.8.3)", "82 02 0001", "EmptyPayload"],
  ["SUBSCRIBE requesting QoS 3 (§3.8.3.1)", "82 06 0001 000161 03", "InvalidQoS"],
  ["SUBSCRIBE with a misplaced '#' (§4.7.1.2)", "82 07 0001 0002 2361 00", "InvalidTopicFilter"],
  ["CONNECT protocol level 3 (§3.1.2.2)", "10 0d 00044d515454 03 02 003c 000161", "UnsupportedProtocol"],
  ["CONNECT reserved flag set (§3.1.2.3)", "10 0d 00044d515454 04 03 003c 000161", "InvalidFlags"],
  ["CONNECT password without user name (§3.1.2.9)", "10 11 00044d515454 04 42 003c 000161 00027077", "InvalidFlags"],
  ["CONNECT will QoS 3 (§3.1.2.6)", "10 0d 00044d515454 04 1e 003c 000161", "InvalidQoS"],
  ["CONNECT client id past the packet", "10 0c 00044d515454 04 02 003c 0005", "LengthOverrun"],
  ["SUBACK larger than the receive buffer", "90 ac02 0001 00", "PacketTooLarge"],
];

const strip = (hex: string) => hex.replace(/\s+/g, "");

/** Topic-name characters: ASCII without wildcards, separators or NUL, plus multi-byte ones. */
const topicChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).filter((c) => c !== 0x2b && c !== 0x23 && c !== 0x2f).map((c) => String.fromCharCode(c)),
  fc.constantFrom("é", "€", "中", "𝄞", "😀", "$"),
);
const level = fc.string({ unit: topicChar, maxLength: 8 });
const topicName = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join("/")).filter((t) => t.length > 0);
const topicFilter = fc
  .tuple(fc.array(fc.oneof(level, fc.constant("+")), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([l, hash]) => (hash ? [...l, "#"] : l).join("/"))
  .filter((t) => t.length > 0);
const hex = (max: number) => fc.uint8Array({ maxLength: max }).map((u) => Buffer.from(u).toString("hex"));
const id = fc.integer({ min: 1, max: 65535 });
const text = fc.string({ unit: topicChar, maxLength: 20 });

const packetArb: fc.Arbitrary<PacketObject> = fc.oneof(
  fc
    .record({
      clean: fc.boolean(),
      keepalive: fc.integer({ min: 0, max: 65535 }),
      clientId: text,
      will: fc.option(fc.record({ topic: topicName, payload: hex(40), qos: fc.integer({ min: 0, max: 2 }), retain: fc.boolean() }), { nil: undefined }),
      username: fc.option(text, { nil: undefined }),
      password: fc.option(hex(16), { nil: undefined }),
    })
    .map((r) => {
      const o: PacketObject = { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: r.clean, keepalive: r.keepalive, clientId: r.clientId };
      if (r.will) o.will = r.will;
      if (r.username !== undefined) {
        o.username = r.username;
        if (r.password !== undefined) o.password = r.password;
      }
      return o;
    }),
  fc.record({ sessionPresent: fc.boolean(), returnCode: fc.integer({ min: 0, max: 5 }) }).map((r) => ({ cmd: "connack", ...r })),
  fc
    .record({ retain: fc.boolean(), qos: fc.integer({ min: 0, max: 2 }), dup: fc.boolean(), topic: topicName, payload: hex(700), messageId: id })
    .map((r) => {
      const o: PacketObject = { cmd: "publish", retain: r.retain, qos: r.qos, dup: r.qos > 0 && r.dup, topic: r.topic, payload: r.payload };
      if (r.qos > 0) o.messageId = r.messageId;
      return o;
    }),
  fc.tuple(fc.constantFrom("puback", "pubrec", "pubrel", "pubcomp", "unsuback"), id).map(([cmd, messageId]) => ({ cmd, messageId })),
  fc
    .tuple(id, fc.array(fc.record({ topic: topicFilter, qos: fc.integer({ min: 0, max: 2 }) }), { minLength: 1, maxLength: 4 }))
    .map(([messageId, subscriptions]) => ({ cmd: "subscribe", messageId, subscriptions })),
  fc.tuple(id, fc.array(fc.constantFrom(0, 1, 2, 0x80), { minLength: 1, maxLength: 6 })).map(([messageId, granted]) => ({ cmd: "suback", messageId, granted })),
  fc.tuple(id, fc.array(topicFilter, { minLength: 1, maxLength: 4 })).map(([messageId, unsubscriptions]) => ({ cmd: "unsubscribe", messageId, unsubscriptions })),
  fc.constantFrom<PacketObject>({ cmd: "pingreq" }, { cmd: "pingresp" }, { cmd: "disconnect" }),
);

/** Smallest receive buffer that holds every non-PUBLISH packet and every PUBLISH topic of the list. */
function minBuffer(objs: PacketObject[]): number {
  let need = 8;
  for (const o of objs) {
    if (o.cmd === "publish") need = Math.max(need, 2 + Buffer.byteLength(o.topic!) + 2 + 1);
    else need = Math.max(need, ops.sizeOfObject(o));
  }
  return need;
}

function withoutLength(packets: PacketObject[]): PacketObject[] {
  return packets.map((p) => {
    const { length: _l, ...rest } = p;
    return rest;
  });
}

for (const engineName of ENGINES) {
  describe(`codec on ${engineName}`, function () {
    let engine: Engine;
    before(async () => {
      engine = await openEngine(engineName, ops, "codec/xs-entry.js");
    });
    after(async () => engine?.close());

    describe("byte-exact vectors", () => {
      for (const [name, obj, bytes] of VECTORS) {
        it(`encodes ${name}`, async () => {
          const r = await engine.call<{ hex: string; size: number }>("encodeHex", obj);
          assert.equal(r.hex, strip(bytes));
          assert.equal(r.size, strip(bytes).length / 2, "sizeOf equals bytes written");
        });
        it(`decodes ${name}`, async () => {
          const r = await engine.call<Outcome>("decodeHex", strip(bytes), 256, []);
          assert.equal(r.error, undefined);
          assert.deepEqual(withoutLength(r.packets), [obj]);
        });
      }

      it("encodes the remaining-length boundaries of §2.2.3 (127, 128, 16383, 16384, 2097151, 2097152)", async () => {
        const cases: [number, string][] = [
          [127, "7f"],
          [128, "8001"],
          [16383, "ff7f"],
          [16384, "808001"],
          [2097151, "ffff7f"],
          [2097152, "80808001"],
        ];
        for (const [remaining, varint] of cases) {
          const r = await engine.call<{ head: string; written: number; size: number }>("encodeRemaining", remaining);
          assert.equal(r.head.slice(0, 2 + varint.length), "30" + varint, `remaining length ${remaining}`);
          assert.equal(r.written, 1 + varint.length / 2 + remaining);
          assert.equal(r.size, r.written);
        }
      });

      it("decodes the largest remaining length (268,435,455) as an oversize PUBLISH in progress", async () => {
        const r = await engine.call<Outcome>("decodeHex", "30 ffffff7f 0001 74 abcdef", 64, [2]);
        assert.equal(r.error, undefined);
        assert.equal(r.packets.length, 0, "nothing complete yet");
      });
    });

    describe("malformed input raises ProtocolError naming the rule", () => {
      for (const [name, bytes, code] of MALFORMED) {
        it(`${name} → ${code}`, async () => {
          for (const chunks of [[], [1], [3]]) {
            const r = await engine.call<Outcome>("decodeHex", strip(bytes), 256, chunks);
            assert.ok(r.error, `no error with chunks ${JSON.stringify(chunks)}`);
            assert.equal(r.error.name, "ProtocolError");
            assert.equal(r.error.code, code, r.error.message);
            assert.deepEqual(r.violations, []);
          }
        });
      }

      it("keeps packets before the bad one, then refuses input until reset", async () => {
        const r = await engine.call<Outcome>("decodeHex", "c000 d000 40020000 c000", 64, [1]);
        assert.deepEqual(r.packets, [{ cmd: "pingreq" }, { cmd: "pingresp" }]);
        assert.equal(r.error?.code, "InvalidPacketId");
        assert.deepEqual(r.violations, []);
      });
    });

    describe("streaming", () => {
      const stream = VECTORS.map((v) => strip(v[2])).join("");
      const expected = VECTORS.map((v) => v[1]);
      for (const chunks of [[1], [2], [3], [7], [1, 5, 2], [4096]]) {
        it(`decodes every vector as one stream in chunks of ${JSON.stringify(chunks)}`, async () => {
          const r = await engine.call<Outcome>("decodeHex", stream, 64, chunks);
          assert.equal(r.error, undefined, r.error?.message);
          assert.deepEqual(withoutLength(r.packets), expected);
          assert.deepEqual(r.violations, []);
        });
      }

      it("delivers a PUBLISH larger than the buffer in fragments, within the buffer", async () => {
        const payload = Buffer.alloc(1000, 0).map((_, i) => i & 255);
        const obj: PacketObject = { cmd: "publish", topic: "sensors/big", payload: Buffer.from(payload).toString("hex"), qos: 1, messageId: 9, retain: false, dup: false };
        for (const chunks of [[], [1], [13]]) {
          const r = await engine.call<RoundTrip>("roundTrip", [obj, { cmd: "pingresp" }, obj], 64, chunks);
          assert.equal(r.decoded.error, undefined, r.decoded.error?.message);
          assert.deepEqual(r.decoded.violations, []);
          assert.deepEqual(withoutLength(r.decoded.packets), [obj, { cmd: "pingresp" }, obj]);
          // 64-byte buffer, 2+11+2 header bytes: 49 payload bytes a fragment
          assert.equal(r.decoded.deliveries, 2 * Math.ceil(1000 / 49));
        }
      });

      it("refuses a PUBLISH whose topic alone exceeds the buffer", async () => {
        const topic = "x".repeat(100);
        const r = await engine.call<RoundTrip>("roundTrip", [{ cmd: "publish", topic, payload: "00", qos: 0 }], 64, [5]);
        assert.equal(r.decoded.error?.code, "PacketTooLarge");
      });
    });

    describe("encoder refusals", () => {
      it("raises BufferTooSmall before writing a byte when the packet does not fit", async () => {
        for (const [, obj, bytes] of VECTORS) {
          const size = strip(bytes).length / 2;
          const r = await engine.call<{ error?: { code: string }; touched: boolean }>("encodeTooSmall", obj, size - 1);
          assert.equal(r.error?.code, "BufferTooSmall", obj.cmd);
          assert.equal(r.touched, false, `${obj.cmd} wrote into a buffer too small for it`);
        }
      });

      for (const [name, obj, code] of [
        ["wildcard in a PUBLISH topic", { cmd: "publish", topic: "a/+", payload: "" }, "InvalidTopic"],
        ["empty PUBLISH topic", { cmd: "publish", topic: "", payload: "" }, "InvalidTopic"],
        ["QoS 3", { cmd: "publish", topic: "a", payload: "", qos: 3, messageId: 1 }, "InvalidQoS"],
        ["QoS 1 without a packet id", { cmd: "publish", topic: "a", payload: "", qos: 1 }, "InvalidArgument"],
        ["lone surrogate in a client id", { cmd: "connect", clientId: "a\ud800" }, "InvalidString"],
        ["U+0000 in a topic", { cmd: "publish", topic: "a\u0000", payload: "" }, "InvalidTopic"],
        ["SUBSCRIBE without filters", { cmd: "subscribe", messageId: 1, subscriptions: [] }, "InvalidArgument"],
      ] as [string, PacketObject, string][]) {
        it(`refuses ${name} with ${code}`, async () => {
          const r = await engine.call<{ error?: { code: string } }>("encodeHex", obj);
          assert.equal(r.error?.code, code);
        });
      }
    });

    describe("properties", () => {
      it("arbitrary valid packets round-trip under arbitrary chunkings", async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(packetArb, { minLength: 1, maxLength: 6 }),
            fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 4 }),
            fc.integer({ min: 16, max: 512 }),
            async (objs, chunks, size) => {
              const r = await engine.call<RoundTrip>("roundTrip", objs, Math.max(size, minBuffer(objs)), chunks);
              for (const [written, sized] of r.sizes) assert.equal(written, sized, "sizeOf == bytes written");
              assert.equal(r.decoded.error, undefined, r.decoded.error?.message);
              assert.deepEqual(r.decoded.violations, []);
              assert.deepEqual(withoutLength(r.decoded.packets), JSON.parse(JSON.stringify(objs)));
            },
          ),
          { numRuns: engineName === "xs" ? 300 : 1000 },
        );
      });
    });

    describe("fuzz", () => {
      const count = engineName === "xs" ? 20000 : 100000;
      it(`${count} mutated and random inputs raise only ProtocolError, stay within the bytes pushed, and decode alike whether each chunk is an exact copy or lies inside random bytes`, async function () {
        this.timeout(240000);
        const r = await engine.call<ops.FuzzReport>("fuzz", 0x5eed, count, 128);
        assert.deepEqual(r.failures, []);
        assert.equal(r.cases, count);
        assert.ok(r.protocolErrors > count / 2, `most mutated inputs are malformed (${r.protocolErrors})`);
        assert.ok(r.packets > count / 10, `many valid packets still decode (${r.packets})`);
        console.log(`      ${engineName}: ${r.cases} cases, ${r.packets} packets decoded, ${r.protocolErrors} ProtocolErrors ${JSON.stringify(r.codes)}`);
      });
    });
  });
}
