/**
 * `xsmqtt encode`: JSON packet objects in (mqtt-packet's field names), hex out.
 *
 * The JSON's shape is checked here, field by field, before `encodeObject` sees it: the
 * codec trusts its callers' types, and a tool's input is the one place they are strings
 * typed by a person.
 */
import { ErrorCode, MqttError } from "../../src/mqtt/errors.js";
import { encodeObject, fromHex, toHex, type PacketObject } from "../inspect.js";
import { validateTopicFilter } from "../../src/mqtt/topic.js";
import { parseOptions, UsageError, type CommandIo } from "./command.js";
import { protocolVersion } from "./decode.js";

/** Printed by `xsmqtt help encode`. */
export const usage = `usage: xsmqtt encode [-V 5|311] [--text-payload] [-f FILE | JSON...]

Encodes MQTT 3.1.1 and 5.0 packets given as JSON objects, one per line, and prints each
packet's bytes as lowercase hex on a line of its own. Objects use the field names of
MQTT.js's mqtt-packet, the same that "xsmqtt decode" prints, so its output can be fed
back; binary fields (payload, password, will.payload, and 5.0's correlationData and
authenticationData) are hex. Fields a packet does not use are ignored, and null counts
as absent.

The protocol version is 3.1.1, or the one -V names, until a CONNECT's protocolVersion
(4 or 5) sets it for that packet and the lines after it, as in a capture. 5.0 packets
take "reasonCode" and "properties" (mqtt-packet's names: sessionExpiryInterval,
topicAlias, userProperties, subscriptionIdentifier, ...; every property is checked for
the packet it is in), and subscriptions take "nl", "rap" and "rh".

Input is standard input, the file FILE, or the JSON arguments (one object each).
Blank lines and lines starting with "#" are ignored. A line that cannot be encoded is
reported on standard error with its line number and error code (InvalidJson, or an
MqttError code such as InvalidArgument, InvalidTopic, InvalidQoS); the other lines are
still encoded, and the exit status is 1.

options:
  -V, --protocol-version mqttv5|mqttv311|5|311
                   encode as MQTT 5.0 or 3.1.1 until a CONNECT says otherwise
  -f, --file FILE  read JSON lines from FILE
  --text-payload   payload and will.payload are UTF-8 text, not hex

examples:
  xsmqtt encode '{"cmd":"publish","topic":"a/b","payload":"6869"}'
    3007 0003612f62 6869 (printed without spaces)
  xsmqtt encode --text-payload '{"cmd":"publish","topic":"a/b","payload":"hi","qos":1,"messageId":10}'
    3209 0003612f62 000a 6869
  xsmqtt encode '{"cmd":"subscribe","messageId":1,"subscriptions":[{"topic":"a/#","qos":1}]}'
    8208 0001 0003612f23 01
  printf '%s\\n' '{"cmd":"connect","clientId":"esp32","keepalive":60}' '{"cmd":"pingreq"}' | xsmqtt encode
    10110004 4d515454 0402003c 00056573703332
    c000
  xsmqtt encode -V 5 '{"cmd":"puback","messageId":10,"reasonCode":16}'
    4003 000a 10
  xsmqtt decode -f capture.txt | xsmqtt encode    (prints the packets again)
`;

type Kind = "string" | "integer" | "boolean";

/** The type of every field encodeObject reads; `length` is accepted so decode's output feeds back. */
const FIELDS: Record<string, Kind> = {
  cmd: "string",
  messageId: "integer",
  qos: "integer",
  dup: "boolean",
  retain: "boolean",
  length: "integer",
  topic: "string",
  payload: "string",
  protocolId: "string",
  protocolVersion: "integer",
  clean: "boolean",
  keepalive: "integer",
  clientId: "string",
  username: "string",
  password: "string",
  returnCode: "integer",
  reasonCode: "integer",
  sessionPresent: "boolean",
};

const WILL_FIELDS: Record<string, Kind> = { topic: "string", payload: "string", qos: "integer", retain: "boolean" };
/** 5.0's subscription options. */
const OPTION_FIELDS: Record<string, Kind> = { nl: "boolean", rap: "boolean", rh: "integer" };

const invalid = (message: string) => new MqttError(ErrorCode.InvalidArgument, message);

function describe(v: unknown): string {
  return Array.isArray(v) ? "an array" : v === null ? "null" : typeof v === "string" ? JSON.stringify(v) : typeof v === "object" ? "an object" : String(v);
}

function check(v: unknown, kind: Kind, name: string): void {
  const ok = kind === "integer" ? Number.isInteger(v) : typeof v === kind;
  if (!ok) throw invalid(`"${name}" must be ${kind === "integer" ? "an integer" : `a ${kind}`}, not ${describe(v)}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Checks `o`'s field types; returns a copy without null fields. Throws `InvalidArgument`. */
function packetObject(o: unknown): PacketObject {
  if (!isObject(o)) throw invalid(`a packet is a JSON object, not ${describe(o)}`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o)) {
    if (value === null) continue;
    const kind = FIELDS[key];
    if (kind) check(value, kind, key);
    else if (key === "will") {
      if (!isObject(value)) throw invalid(`"will" must be an object, not ${describe(value)}`);
      if (value.topic === undefined) throw invalid(`"will" needs "topic"`);
      for (const [k, kind] of Object.entries(WILL_FIELDS)) if (value[k] != null) check(value[k], kind, `will.${k}`);
      if (value.properties != null && !isObject(value.properties)) throw invalid(`"will.properties" must be an object, not ${describe(value.properties)}`);
    } else if (key === "properties") {
      // each property's type and range is the encoder's to check: it knows where each may go
      if (!isObject(value)) throw invalid(`"properties" must be an object, not ${describe(value)}`);
    } else if (key === "subscriptions") {
      if (!Array.isArray(value)) throw invalid(`"subscriptions" must be an array, not ${describe(value)}`);
      value.forEach((s: unknown, i) => {
        if (!isObject(s)) throw invalid(`subscriptions[${i}] must be an object like {"topic":"a/#","qos":0}, not ${describe(s)}`);
        check(s.topic, "string", `subscriptions[${i}].topic`);
        check(s.qos, "integer", `subscriptions[${i}].qos`);
        for (const [k, kind] of Object.entries(OPTION_FIELDS)) if (s[k] != null) check(s[k], kind, `subscriptions[${i}].${k}`);
      });
    } else if (key === "unsubscriptions") {
      if (!Array.isArray(value)) throw invalid(`"unsubscriptions" must be an array, not ${describe(value)}`);
      value.forEach((s: unknown, i) => check(s, "string", `unsubscriptions[${i}]`));
    } else if (key === "granted") {
      if (!Array.isArray(value)) throw invalid(`"granted" must be an array, not ${describe(value)}`);
      value.forEach((g: unknown, i) => check(g, "integer", `granted[${i}]`));
    }
    out[key] = value;
  }
  if (out.cmd === undefined) throw invalid(`a packet needs "cmd"`);
  if (out.protocolId !== undefined && out.protocolId !== "MQTT")
    throw invalid(`protocolId ${JSON.stringify(out.protocolId)} is not supported (MQTT 3.1.1 is "MQTT")`);
  // the encoder leaves filters to the caller (validateTopicFilter); a tool should not emit bad ones
  if (out.cmd === "subscribe" && Array.isArray(out.subscriptions)) for (const s of out.subscriptions) validateTopicFilter(s.topic);
  if (out.cmd === "unsubscribe" && Array.isArray(out.unsubscriptions)) for (const t of out.unsubscriptions) validateTopicFilter(t);
  return out as unknown as PacketObject;
}

/** Throws `InvalidArgument` naming the field when a binary field is not hex. */
function checkHex(hex: string | undefined, name: string): void {
  if (hex === undefined) return;
  try {
    fromHex(hex);
  } catch (e) {
    if (e instanceof MqttError) throw invalid(`"${name}" is not hex (${e.message})${name === "password" ? "" : "; use --text-payload for text"}`);
    throw e;
  }
}

// a surrogate not in a pair: in a /u pattern a pair is one code point, so only lone ones match
const LONE_SURROGATE = /\p{Cs}/u;

/** `text` as UTF-8 hex, for --text-payload. Throws `InvalidString` on a lone surrogate. */
function textToHex(text: string, name: string): string {
  if (LONE_SURROGATE.test(text)) throw new MqttError(ErrorCode.InvalidString, `${name} has a lone surrogate, which has no UTF-8 form`);
  return Buffer.from(text, "utf8").toString("hex");
}

/** The packet's hex, as MQTT `state.version` (which a CONNECT sets). Throws MqttError; a buffer too small is retried larger. */
function encodeLine(text: string, textPayload: boolean, state: { version: number }): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new MqttError("InvalidJson", (e as Error).message);
  }
  const o = packetObject(parsed);
  if (o.cmd === "connect" && o.protocolVersion !== undefined) {
    if (o.protocolVersion !== 4 && o.protocolVersion !== 5) throw invalid(`protocolVersion ${o.protocolVersion} is not supported (MQTT 3.1.1 is 4, 5.0 is 5)`);
    state.version = o.protocolVersion;
  }
  if (textPayload) {
    if (o.payload !== undefined) o.payload = textToHex(o.payload, "payload");
    if (o.will?.payload != null) o.will = { ...o.will, payload: textToHex(o.will.payload, "will.payload") };
  }
  checkHex(o.payload, "payload");
  checkHex(o.password, "password");
  checkHex(o.will?.payload, "will.payload");
  // every JSON character becomes at most 3 bytes; strings add 2-byte prefixes but take 2 quotes
  for (let size = 3 * text.length + 64; ; size *= 2) {
    const buf = new Uint8Array(size);
    try {
      return toHex(buf, 0, encodeObject(buf, 0, o, state.version));
    } catch (e) {
      if (!(e instanceof MqttError && e.code === ErrorCode.BufferTooSmall)) throw e;
    }
  }
}

/** Encodes every input line; resolves to 1 if any line failed, else 0. Throws {@link UsageError}. */
export async function run(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    file: { type: "string", short: "f" },
    "text-payload": { type: "boolean" },
    "protocol-version": { type: "string", short: "V" },
  });
  const pv = values["protocol-version"];
  const state = { version: pv === undefined ? 4 : protocolVersion(pv) };
  if (values.file !== undefined && positionals.length > 0) throw new UsageError("give JSON either as arguments or with -f, not both");
  const source = positionals.length > 0 ? { inline: positionals } : { file: values.file };
  const textPayload = !!values["text-payload"];
  let failed = false;
  let line = 0;
  for await (const text of io.lines(source)) {
    line++;
    const trimmed = text.trim();
    if (trimmed === "" || trimmed[0] === "#") continue;
    try {
      io.out(encodeLine(trimmed, textPayload, state) + "\n");
    } catch (e) {
      if (!(e instanceof MqttError)) throw e;
      io.err(`line ${line}: ${e.code}: ${e.message}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}
