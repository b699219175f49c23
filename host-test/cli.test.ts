/**
 * The `xsmqtt` command, run as users run it: `node bin/xsmqtt.js ...` in a child process
 * with its standard input, output and exit status. MQTT.js's mqtt-packet is the reference:
 * its generator makes the bytes `decode` must read and `encode` must write, and its parser
 * reads the same bytes for comparison.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import mqttPacket from "mqtt-packet";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `xsmqtt args...` with `input` on standard input. */
function xsmqtt(args: string[], input = ""): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/xsmqtt.js", ...args], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** The JSON objects printed one per line. */
function objects(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A packet as mqtt-packet takes it, binary fields as Buffers. */
type MqttPacketObject = Record<string, unknown> & { cmd: string };

/** mqtt-packet's bytes for `o`, as hex. */
function generate(o: MqttPacketObject): string {
  return mqttPacket.generate(o as unknown as mqttPacket.Packet).toString("hex");
}

/** Buffers as lowercase hex, recursively: how xsmqtt writes binary fields. */
function hexed(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString("hex");
  if (Array.isArray(v)) return v.map(hexed);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hexed(x)]));
  return v;
}

/** Every packet mqtt-packet's parser reads from `hex`, binary fields as hex. */
function parseWithMqttPacket(hex: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const p = mqttPacket.parser({ protocolVersion: 4 });
  p.on("packet", (x: unknown) => out.push(JSON.parse(JSON.stringify(hexed(x))) as Record<string, unknown>));
  p.on("error", (e: Error) => assert.fail(`mqtt-packet could not parse ${hex}: ${e.message}`));
  p.parse(Buffer.from(hex, "hex"));
  return out;
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

const payload300 = Buffer.alloc(300, 0).map((_, i) => i & 255);

/** One or more of every packet type, with the fields and flags each can carry. */
const PACKETS: MqttPacketObject[] = [
  { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 60, clientId: "esp32-01" },
  { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: "" },
  {
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 4,
    clean: false,
    keepalive: 65535,
    clientId: "capteur-é",
    will: { topic: "s/esp32-01/état", payload: Buffer.from("offline"), qos: 1, retain: true },
    username: "user",
    password: Buffer.from([0x00, 0xff, 0x70]),
  },
  {
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    clientId: "c",
    will: { topic: "w", payload: Buffer.alloc(0), qos: 2, retain: false },
    username: "only-a-user",
  },
  { cmd: "connack", sessionPresent: false, returnCode: 0 },
  { cmd: "connack", sessionPresent: true, returnCode: 0 },
  { cmd: "connack", sessionPresent: false, returnCode: 5 },
  { cmd: "publish", topic: "a/b", payload: Buffer.from("hi"), qos: 0, retain: false, dup: false },
  { cmd: "publish", topic: "sensors/esp32-01/temperature", payload: Buffer.from('{"t":21.5}'), qos: 1, messageId: 10, retain: true, dup: true },
  { cmd: "publish", topic: "t", payload: Buffer.alloc(0), qos: 2, messageId: 65535, retain: false, dup: false },
  { cmd: "publish", topic: "é/€/𝄞", payload: Buffer.from([0, 1, 2]), qos: 0, retain: true, dup: false },
  { cmd: "publish", topic: "big", payload: payload300, qos: 1, messageId: 300, retain: false, dup: false },
  { cmd: "publish", topic: "bigger", payload: Buffer.alloc(20000, 0xab), qos: 0, retain: false, dup: false },
  { cmd: "puback", messageId: 1 },
  { cmd: "pubrec", messageId: 256 },
  { cmd: "pubrel", messageId: 65535 },
  { cmd: "pubcomp", messageId: 7 },
  { cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "a/#", qos: 1 }] },
  { cmd: "subscribe", messageId: 2, subscriptions: [{ topic: "+/b", qos: 0 }, { topic: "#", qos: 2 }, { topic: "sport/tennis/+/ü", qos: 1 }] },
  { cmd: "suback", messageId: 1, granted: [0, 1, 2, 128] },
  { cmd: "unsubscribe", messageId: 3, unsubscriptions: ["a/#", "+/b", "é"] },
  { cmd: "unsuback", messageId: 3 },
  { cmd: "pingreq" },
  { cmd: "pingresp" },
  { cmd: "disconnect" },
];

/** Checks decode's `got` against the object `given` to mqtt-packet and mqtt-packet's own parse of the bytes. */
function assertMatches(got: Record<string, unknown>, given: MqttPacketObject, reference: Record<string, unknown>): void {
  const want = hexed(given) as Record<string, unknown>;
  const what = `${given.cmd} ${JSON.stringify(want).slice(0, 120)}`;
  assert.deepEqual(pick(got, Object.keys(want)), want, `${what}: every field given to mqtt-packet comes back`);
  assert.deepEqual(got, pick(reference, Object.keys(got)), `${what}: every field printed equals mqtt-packet's parse`);
  // the fields mqtt-packet's parser gives for 3.1.1 that carry information, all present
  const informative = Object.keys(reference).filter(
    (k) => reference[k] !== null && reference[k] !== undefined && !(["retain", "qos", "dup", "length"].includes(k) && given.cmd !== "publish"),
  );
  assert.deepEqual(Object.keys(got).sort(), informative.sort(), `${what}: the same fields as mqtt-packet`);
}

/** Our JSON form of an mqtt-packet object: binary fields as hex. */
const asJson = (o: MqttPacketObject) => JSON.stringify(hexed(o));

describe("xsmqtt command", function () {
  this.timeout(20000);

  describe("decode", () => {
    it("decodes every packet type as mqtt-packet parses it, one line each", async () => {
      const lines = PACKETS.map(generate);
      const r = await xsmqtt(["decode"], lines.join("\n") + "\n");
      assert.equal(r.stderr, "");
      assert.equal(r.status, 0);
      const got = objects(r.stdout);
      assert.equal(got.length, PACKETS.length);
      PACKETS.forEach((given, i) => {
        const [reference] = parseWithMqttPacket(lines[i]);
        assertMatches(got[i], given, reference);
      });
    });

    it("decodes several packets on one line, and several lines, in order", async () => {
      const line1 = PACKETS.slice(0, 12).map(generate).join("");
      const line2 = PACKETS.slice(12).map(generate).join(" ");
      const r = await xsmqtt(["decode"], `${line1}\n${line2}\n`);
      assert.equal(r.stderr, "");
      assert.equal(r.status, 0);
      const got = objects(r.stdout);
      assert.equal(got.length, PACKETS.length);
      const reference = [...parseWithMqttPacket(line1), ...parseWithMqttPacket(line2.replace(/ /g, ""))];
      PACKETS.forEach((given, i) => assertMatches(got[i], given, reference[i]));
    });

    it("decodes 300 arbitrary packets made by mqtt-packet as mqtt-packet parses them", async () => {
      const topicChar = fc.oneof(
        fc.integer({ min: 0x20, max: 0x7e }).filter((c) => c !== 0x2b && c !== 0x23).map((c) => String.fromCharCode(c)),
        fc.constantFrom("é", "€", "中", "𝄞"),
      );
      const topic = fc.string({ unit: topicChar, minLength: 1, maxLength: 20 });
      const filter = fc.oneof(topic, fc.constantFrom("#", "+", "a/+/b", "a/#", "+/+"));
      const id = fc.integer({ min: 1, max: 65535 });
      const qos = fc.constantFrom(0, 1, 2);
      const bytes = fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u));
      const packet: fc.Arbitrary<MqttPacketObject> = fc.oneof(
        fc.record({ topic, payload: bytes, qos, messageId: id, retain: fc.boolean(), dup: fc.boolean() }).map((p) => {
          const o: MqttPacketObject = { cmd: "publish", ...p };
          if (p.qos === 0) delete o.messageId;
          return o;
        }),
        fc.record({ messageId: id, subscriptions: fc.array(fc.record({ topic: filter, qos }), { minLength: 1, maxLength: 4 }) }).map((p) => ({ cmd: "subscribe", ...p })),
        fc.record({ messageId: id, unsubscriptions: fc.array(filter, { minLength: 1, maxLength: 4 }) }).map((p) => ({ cmd: "unsubscribe", ...p })),
        fc.record({ messageId: id, granted: fc.array(fc.constantFrom(0, 1, 2, 128), { minLength: 1, maxLength: 4 }) }).map((p) => ({ cmd: "suback", ...p })),
        fc.record({ cmd: fc.constantFrom("puback", "pubrec", "pubrel", "pubcomp", "unsuback"), messageId: id }),
        // mqtt-packet refuses an empty client id without a clean session
        fc.record({ clientId: fc.string({ unit: topicChar, minLength: 1, maxLength: 23 }), keepalive: fc.integer({ min: 0, max: 65535 }), clean: fc.boolean() }).map((p) => ({
          cmd: "connect",
          protocolId: "MQTT",
          protocolVersion: 4,
          ...p,
        })),
      );
      const given = fc.sample(packet, { numRuns: 300, seed: 0x5eed });
      const lines = given.map(generate);
      const r = await xsmqtt(["decode"], lines.join("\n"));
      assert.equal(r.stderr, "");
      const got = objects(r.stdout);
      assert.equal(got.length, given.length);
      given.forEach((g, i) => assertMatches(got[i], g, parseWithMqttPacket(lines[i])[0]));
    });

    it("reads the hex pasted from logs and captures: 0x prefixes, commas, colons, tabs, either case, comments", async () => {
      const want = { cmd: "publish", retain: false, qos: 0, dup: false, length: 7, topic: "a/b", payload: "6869" };
      const input = [
        "# a comment line, then a blank one",
        "",
        "0x30, 0x07, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x68, 0x69",
        "30:07:00:03:61:2f:62:68:69",
        "3007 0003612F62 6869",
        "\t30\t07 00,03 61:2f 62 68 69  # trailing comment",
        "0X30 0x7 0x0 0x3 0x61 0x2f 0x62 0x68 0x69",
        "  30070003612f626869",
        "30 07 00 03 61 2f 62 68 69\r",
      ].join("\n");
      const r = await xsmqtt(["decode"], input);
      assert.equal(r.stderr, "");
      assert.equal(r.status, 0);
      assert.deepEqual(objects(r.stdout), Array(7).fill(want));
    });

    it("takes hex from arguments (one stream) and from a file", async () => {
      const args = await xsmqtt(["decode", "3007", "0003", "612f62", "6869", "c000"]);
      assert.equal(args.status, 0);
      assert.deepEqual(objects(args.stdout).map((o) => o.cmd), ["publish", "pingreq"]);
      const dir = mkdtempSync(path.join(tmpdir(), "xsmqtt-"));
      try {
        const file = path.join(dir, "capture.txt");
        writeFileSync(file, "c000\r\nd000\r\n\r\ne000\r\n");
        const fromFile = await xsmqtt(["decode", "-f", file]);
        assert.equal(fromFile.stderr, "");
        assert.deepEqual(objects(fromFile.stdout), [{ cmd: "pingreq" }, { cmd: "pingresp" }, { cmd: "disconnect" }]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("reports a malformed packet with line, byte offset, code and the bytes; keeps packets before it and later lines", async () => {
      const r = await xsmqtt(["decode"], "# header\nc000 d000 4002 0000 c000\ne000\n");
      assert.equal(r.status, 1);
      assert.deepEqual(objects(r.stdout), [{ cmd: "pingreq" }, { cmd: "pingresp" }, { cmd: "disconnect" }]);
      assert.equal(r.stderr, "line 2, byte 4: ProtocolError InvalidPacketId: puback with packet id 0\n  40 02 [00 00]\n");
    });

    it("names the rule and the place for each kind of malformed packet", async () => {
      const cases: [string, string, number, string][] = [
        // line input, expected code, byte offset of the bad packet, excerpt
        ["c000 30 80 80 80 80 01", "MalformedRemainingLength", 2, "30 [80 80 80 80]"],
        ["00 00", "UnknownPacketType", 0, "[00] 00"],
        ["d000 f0 00", "UnknownPacketType", 2, "[f0] 00"],
        ["60 02 00 01", "InvalidFlags", 0, "[60] 02 00 01"],
        ["36 05 000161 0001", "InvalidQoS", 0, "[36] 05 00 01 61 00 01"],
        ["40 03 000100", "InvalidLength", 0, "40 [03] 00 01 00"],
        ["30 03 0001 2b", "InvalidTopic", 0, "30 03 [00 01 2b]"],
        ["30 04 0002 c080", "MalformedUtf8", 0, "30 04 [00 02 c0 80]"],
        ["20 02 00 06", "InvalidReturnCode", 0, "20 02 [00 06]"],
        ["82 02 0001", "EmptyPayload", 0, "82 02 [00 01]"],
        ["c000 c000 82 07 0001 0002 2361 00", "InvalidTopicFilter", 4, "82 07 [00 01 00 02 23 61 00]"],
        ["10 0d 00044d515454 03 02 003c 000161", "UnsupportedProtocol", 0, "10 0d [00 04 4d 51 54 54 03 02 00 3c 00 01 61]"],
      ];
      const r = await xsmqtt(["decode"], cases.map((c) => c[0]).join("\n"));
      assert.equal(r.status, 1);
      const messages = r.stderr.split(/\n(?! )/).filter((m) => m !== "");
      assert.equal(messages.length, cases.length, r.stderr);
      cases.forEach(([, code, byte, shown], i) => {
        const [head, bytes] = messages[i].split("\n");
        assert.match(head, new RegExp(`^line ${i + 1}, byte ${byte}: ProtocolError ${code}: \\S`), messages[i]);
        assert.equal(bytes, `  ${shown}`, messages[i]);
      });
      assert.deepEqual(objects(r.stdout), [{ cmd: "pingreq" }, { cmd: "pingresp" }, { cmd: "pingreq" }, { cmd: "pingreq" }], "the good packets before each bad one");
    });

    it("shortens the bytes of a long malformed packet", async () => {
      const r = await xsmqtt(["decode"], "30 ff01 0003 612f23" + "aa".repeat(250));
      assert.equal(r.status, 1);
      const [head, bytes] = r.stderr.split("\n");
      assert.match(head, /^line 1, byte 0: ProtocolError InvalidTopic: /);
      assert.ok(bytes.length < 100, bytes);
      assert.match(bytes, /^ {2}30 ff 01 \[00 03 61 2f 23 aa .*…\d+ bytes….*\]$/);
    });

    it("reports a line that ends inside a packet as Truncated, with the bytes needed and had", async () => {
      const r = await xsmqtt(["decode"], ["c000 3009 0003612f62", "c0", "c000 30 80", "90 ac02 0001 00", "3007 0003612f62 6869 4002"].join("\n"));
      assert.equal(r.status, 1);
      assert.deepEqual(objects(r.stdout).map((o) => o.cmd), ["pingreq", "pingreq", "publish"]);
      assert.equal(
        r.stderr,
        [
          "line 1, byte 2: Truncated: publish needs 11 bytes, the line has 7",
          "  30 09 00 03 61 2f 62 [4 bytes missing]",
          "line 2, byte 0: Truncated: the line ends inside the pingreq fixed header (1 byte)",
          "  c0 [line ends]",
          "line 3, byte 2: Truncated: the line ends inside the publish fixed header (2 bytes)",
          "  30 80 [line ends]",
          "line 4, byte 0: Truncated: suback needs 303 bytes, the line has 6",
          "  90 ac 02 00 01 00 [297 bytes missing]",
          "line 5, byte 9: Truncated: puback needs 4 bytes, the line has 2",
          "  40 02 [2 bytes missing]",
          "",
        ].join("\n"),
      );
    });

    it("refuses invalid hex with the column, and goes on with the next line", async () => {
      const r = await xsmqtt(["decode"], ["c000 zz", "c000", "300 7", "0x", "c0 00 0x3g", "d000"].join("\n"));
      assert.equal(r.status, 1);
      assert.deepEqual(objects(r.stdout), [{ cmd: "pingreq" }, { cmd: "pingresp" }]);
      assert.deepEqual(r.stderr.trimEnd().split("\n"), [
        'line 1: invalid hex: "z" at column 6 is not a hex digit (in "zz")',
        'line 3: invalid hex: "300" at column 1 has an odd number of hex digits',
        'line 4: invalid hex: "0x" at column 1 has no hex digits',
        'line 5: invalid hex: "g" at column 10 is not a hex digit (in "0x3g")',
      ]);
    });

    it("--text adds printable payloads as text; --pretty indents", async () => {
      const hi = generate({ cmd: "publish", topic: "t", payload: Buffer.from("héllo\tworld\n"), qos: 0, retain: false, dup: false });
      const binary = generate({ cmd: "publish", topic: "t", payload: Buffer.from([0x68, 0x00, 0x69]), qos: 0, retain: false, dup: false });
      const badUtf8 = generate({ cmd: "publish", topic: "t", payload: Buffer.from([0xc0, 0x80]), qos: 0, retain: false, dup: false });
      const will = generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: "c", will: { topic: "w", payload: Buffer.from("bye"), qos: 0, retain: false } });
      const r = await xsmqtt(["decode", "--text"], [hi, binary, badUtf8, will].join("\n"));
      assert.equal(r.status, 0);
      const [a, b, c, d] = objects(r.stdout);
      assert.equal(a.payloadText, "héllo\tworld\n");
      assert.deepEqual(Object.keys(a).slice(-2), ["payload", "payloadText"], "payloadText follows payload");
      assert.equal("payloadText" in b, false, "a NUL byte is not text");
      assert.equal("payloadText" in c, false, "malformed UTF-8 is not text");
      assert.deepEqual(d.will, { topic: "w", payload: "627965", payloadText: "bye", qos: 0, retain: false });

      const pretty = await xsmqtt(["decode", "--pretty", "4002000a"]);
      assert.equal(pretty.stdout, '{\n  "cmd": "puback",\n  "messageId": 10\n}\n');
    });
  });

  describe("encode", () => {
    it("writes the bytes mqtt-packet generates for every packet type", async () => {
      const r = await xsmqtt(["encode"], PACKETS.map(asJson).join("\n") + "\n");
      assert.equal(r.stderr, "");
      assert.equal(r.status, 0);
      assert.deepEqual(r.stdout.trimEnd().split("\n"), PACKETS.map(generate));
    });

    it("takes JSON from arguments, one packet each", async () => {
      const r = await xsmqtt(["encode", '{"cmd":"pingreq"}', '{"cmd":"puback","messageId":10}']);
      assert.equal(r.status, 0);
      assert.equal(r.stdout, "c000\n4002000a\n");
    });

    it("--text-payload takes payload and will.payload as UTF-8 text", async () => {
      const publish = { cmd: "publish", topic: "a/b", payload: "héllo 𝄞", qos: 1, messageId: 5, retain: false, dup: false };
      const connect = { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 10, clientId: "c", will: { topic: "w", payload: "gone", qos: 1, retain: true } };
      const r = await xsmqtt(["encode", "--text-payload"], JSON.stringify(publish) + "\n" + JSON.stringify(connect));
      assert.equal(r.stderr, "");
      assert.deepEqual(r.stdout.trimEnd().split("\n"), [
        generate({ ...publish, payload: Buffer.from(publish.payload) }),
        generate({ ...connect, will: { ...connect.will, payload: Buffer.from("gone") } }),
      ]);
    });

    it("reads back what decode prints", async () => {
      const hex = PACKETS.map(generate);
      const decoded = await xsmqtt(["decode", "--text"], hex.join("\n"));
      const encoded = await xsmqtt(["encode"], decoded.stdout);
      assert.equal(encoded.stderr, "");
      assert.deepEqual(encoded.stdout.trimEnd().split("\n"), hex);
    });

    it("reports each bad line with its number and code, encodes the rest, and exits 1", async () => {
      const lines: [string, string | null][] = [
        ['{"cmd":"pingreq"}', null],
        ["# a comment", null],
        ['{"cmd":"publish","topic":"a/b"', "InvalidJson"],
        ['{"cmd":"publish","topic":"a/+","payload":""}', "InvalidTopic"],
        ['{"topic":"a"}', "InvalidArgument"],
        ['{"cmd":"frob"}', "InvalidArgument"],
        ["[1,2]", "InvalidArgument"],
        ['{"cmd":"publish","topic":5}', "InvalidArgument"],
        ['{"cmd":"publish","payload":"00"}', "InvalidArgument"],
        ['{"cmd":"publish","topic":"a","payload":"zz"}', "InvalidArgument"],
        ['{"cmd":"publish","topic":"a","qos":3,"messageId":1}', "InvalidQoS"],
        ['{"cmd":"publish","topic":"a","qos":1}', "InvalidArgument"],
        ['{"cmd":"puback","messageId":0}', "InvalidArgument"],
        ['{"cmd":"connect","keepalive":1.5}', "InvalidArgument"],
        ['{"cmd":"connect","clientId":"a\\u0000"}', "InvalidString"],
        ['{"cmd":"connect","password":"00"}', "InvalidArgument"],
        ['{"cmd":"connect","protocolId":"MQIsdp","protocolVersion":3}', "InvalidArgument"],
        ['{"cmd":"subscribe","messageId":1,"subscriptions":[{"topic":"a#","qos":0}]}', "InvalidTopicFilter"],
        ['{"cmd":"subscribe","messageId":1,"subscriptions":[]}', "InvalidArgument"],
        ['{"cmd":"suback","messageId":1,"granted":[3]}', "InvalidArgument"],
        ['{"cmd":"disconnect"}', null],
      ];
      const r = await xsmqtt(["encode"], lines.map((l) => l[0]).join("\n"));
      assert.equal(r.status, 1);
      assert.equal(r.stdout, "c000\ne000\n");
      const errors = r.stderr.trimEnd().split("\n");
      const expected = lines.flatMap(([, code], i) => (code ? [[i + 1, code] as const] : []));
      assert.equal(errors.length, expected.length, r.stderr);
      expected.forEach(([line, code], i) => assert.match(errors[i], new RegExp(`^line ${line}: ${code}: \\S`)));
    });

    it("refuses a lone surrogate in a --text-payload payload", async () => {
      const r = await xsmqtt(["encode", "--text-payload", '{"cmd":"publish","topic":"t","payload":"\\ud800"}']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^line 1: InvalidString: /);
    });
  });

  describe("MQTT 5.0 in decode and encode", () => {
    /** 5.0 packets of every type as mqtt-packet generates them, with properties. */
    const V5: Record<string, unknown>[] = [
      { cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, keepalive: 30, clientId: "c5", properties: { sessionExpiryInterval: 60, receiveMaximum: 8, userProperties: { a: "b" } } },
      { cmd: "connack", sessionPresent: false, reasonCode: 0, properties: { topicAliasMaximum: 10, assignedClientIdentifier: "x" } },
      { cmd: "publish", topic: "t/1", payload: Buffer.from("hi"), qos: 1, messageId: 3, retain: false, dup: false, properties: { topicAlias: 2, contentType: "text/plain", correlationData: Buffer.from([1, 2]) } },
      { cmd: "puback", messageId: 3, reasonCode: 0x10, properties: { reasonString: "nobody" } },
      { cmd: "subscribe", messageId: 4, subscriptions: [{ topic: "a/#", qos: 2, nl: true, rap: false, rh: 1 }], properties: { subscriptionIdentifier: 7 } },
      { cmd: "suback", messageId: 4, granted: [2] },
      { cmd: "disconnect", reasonCode: 0x8e },
      { cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: "m" } },
    ];
    const hex5 = V5.map((o) => mqttPacket.generate(o as unknown as mqttPacket.Packet, { protocolVersion: 5 }).toString("hex"));

    it("decode takes the version from a capture's CONNECT, for the lines after it", async () => {
      const r = await xsmqtt(["decode"], hex5.join("\n"));
      assert.equal(r.stderr, "");
      const out = objects(r.stdout);
      assert.equal(out.length, V5.length);
      assert.deepEqual(out[3], { cmd: "puback", messageId: 3, reasonCode: 16, properties: { reasonString: "nobody" } });
      assert.deepEqual(out[2].properties, { topicAlias: 2, contentType: "text/plain", correlationData: "0102" });
      assert.deepEqual(out[4].subscriptions, [{ topic: "a/#", qos: 2, nl: true, rap: false, rh: 1 }]);
      assert.deepEqual(out[7], { cmd: "auth", reasonCode: 24, properties: { authenticationMethod: "m" } });
    });

    it("decode -V 5 reads 5.0 without a CONNECT; without it the same bytes are 3.1.1 and refused", async () => {
      const v5 = await xsmqtt(["decode", "-V", "mqttv5"], hex5[3]);
      assert.deepEqual(objects(v5.stdout), [{ cmd: "puback", messageId: 3, reasonCode: 16, properties: { reasonString: "nobody" } }]);
      const v4 = await xsmqtt(["decode"], hex5[3]);
      assert.equal(v4.status, 1);
      assert.match(v4.stderr, /InvalidLength/);
      const bad = await xsmqtt(["decode", "-V", "mqttv31", "c000"]);
      assert.equal(bad.status, 2);
    });

    it("encode writes what mqtt-packet decodes back to the same packets, and reads back what decode prints", async () => {
      const decoded = await xsmqtt(["decode"], hex5.join("\n"));
      const encoded = await xsmqtt(["encode"], decoded.stdout);
      assert.equal(encoded.stderr, "");
      const parser = mqttPacket.parser({ protocolVersion: 5 });
      const seen: Record<string, unknown>[] = [];
      parser.on("packet", (p) => seen.push(p as unknown as Record<string, unknown>));
      for (const h of encoded.stdout.trimEnd().split("\n")) parser.parse(Buffer.from(h, "hex"));
      assert.equal(seen.length, V5.length);
      seen.forEach((p, i) => {
        assert.equal(p.cmd, V5[i].cmd);
        // JSON: mqtt-packet's userProperties object has no prototype, and binary values are Buffers
        assert.deepEqual(JSON.parse(JSON.stringify(p.properties ?? {})), JSON.parse(JSON.stringify(V5[i].properties ?? {})), `${p.cmd} properties`);
        if ("reasonCode" in V5[i]) assert.equal(p.reasonCode, V5[i].reasonCode);
      });
    });

    it("encode refuses 5.0 fields in 3.1.1 and properties a packet may not carry, naming them", async () => {
      const r = await xsmqtt(["encode"], ['{"cmd":"puback","messageId":1,"reasonCode":16}', '{"cmd":"auth"}'].join("\n"));
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^line 1: InvalidArgument: .*needs MQTT 5/m);
      assert.match(r.stderr, /^line 2: InvalidArgument: /m);
      const p = await xsmqtt(["encode", "-V", "5", '{"cmd":"puback","messageId":1,"properties":{"topicAlias":1}}', '{"cmd":"publish","topic":"a","properties":{"topicAlais":1}}']);
      assert.equal(p.status, 1);
      assert.match(p.stderr, /^line 1: InvalidArgument: topicAlias is not allowed in PUBACK$/m);
      assert.match(p.stderr, /^line 2: InvalidArgument: unknown property "topicAlais"$/m);
    });
  });

  describe("dispatch", () => {
    it("help documents both commands with examples", async () => {
      const r = await xsmqtt(["help"]);
      assert.equal(r.status, 0);
      for (const s of ["xsmqtt decode", "xsmqtt encode", "--pretty", "--text", "--text-payload", "examples:"]) assert.ok(r.stdout.includes(s), s);
      const flag = await xsmqtt(["--help"]);
      assert.equal(flag.stdout, r.stdout);
      const one = await xsmqtt(["help", "encode"]);
      assert.match(one.stdout, /^usage: xsmqtt encode/);
      const sub = await xsmqtt(["decode", "--help"]);
      assert.match(sub.stdout, /^usage: xsmqtt decode/);
    });

    it("an unknown or missing command prints usage on stderr and exits 2", async () => {
      for (const args of [["frob"], []]) {
        const r = await xsmqtt(args);
        assert.equal(r.status, 2);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /usage: xsmqtt <command>/);
      }
    });

    it("a wrong option exits 2 with the command's usage; an unreadable file exits 1", async () => {
      const bad = await xsmqtt(["decode", "--bogus"]);
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /usage: xsmqtt decode/);
      const both = await xsmqtt(["encode", "-f", "x.json", '{"cmd":"pingreq"}']);
      assert.equal(both.status, 2);
      const missing = await xsmqtt(["decode", "-f", path.join(root, "no-such-file.txt")]);
      assert.equal(missing.status, 1);
      assert.match(missing.stderr, /ENOENT/);
    });
  });
});
