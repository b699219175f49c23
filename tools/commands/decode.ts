/**
 * `xsmqtt decode`: hex byte streams in, one JSON object per MQTT packet out.
 *
 * Each input line is one byte stream, decoded by a fresh {@link Decoder} whose buffer holds
 * the whole line, so no PUBLISH is ever fragmented. Packets are pushed one at a time (their
 * fixed headers byte by byte) so that an error can be placed: the offset of the packet it
 * is in, and the bytes the decoder was reading when it failed.
 */
import { Decoder } from "../../src/mqtt/decode.js";
import { ProtocolError } from "../../src/mqtt/errors.js";
import { PayloadAssembler, type PacketObject } from "../inspect.js";
import { PacketName } from "../../src/mqtt/packet.js";
import { parseOptions, UsageError, type CommandIo } from "./command.js";

/** Printed by `xsmqtt help decode`. */
export const usage = `usage: xsmqtt decode [-V 5|311] [--pretty] [--text] [-f FILE | HEX...]

Decodes MQTT 3.1.1 and 5.0 packets given as hex and prints each as one JSON object per
line, with the field names of MQTT.js's mqtt-packet (cmd, messageId, qos, dup, retain,
topic, payload, ..., and for 5.0 reasonCode and properties: sessionExpiryInterval,
topicAlias, userProperties, ...) and binary fields (payload, password, will.payload,
correlationData, authenticationData) as lowercase hex.

The protocol version comes from the capture: a CONNECT of protocol level 5 makes it 5.0
from that packet on, for the rest of the input, and one of level 4 makes it 3.1.1. Until
a CONNECT says otherwise it is 3.1.1, or the version -V names.

Input is standard input, the file FILE, or the HEX arguments (taken together as one
line). Each line is one byte stream and may hold several packets. Bytes may be written
as pasted from logs and captures: "30070003612f626869", "30 07 00 03", "30:07:00:03",
"0x30, 0x07, 0x00", in either case. Blank lines and text after "#" are ignored.

A malformed or incomplete packet is reported on standard error with its line, the
offset of its first byte in the line (from 0), the error code, and its bytes with the
failing part in [brackets]; packets before it on the line are still printed, and
decoding goes on with the next line. The exit status is 1 if any line failed.

options:
  -V, --protocol-version mqttv5|mqttv311|5|311
                   decode as MQTT 5.0 or 3.1.1 until a CONNECT says otherwise
  -f, --file FILE  read hex lines from FILE
  --pretty         indent the JSON
  --text           add "payloadText" (and will.payloadText): the payload as text,
                   when it is UTF-8 without control characters other than tab and
                   line ends

examples:
  xsmqtt decode 3007 0003 612f62 6869
    {"cmd":"publish","retain":false,"qos":0,"dup":false,"length":7,"topic":"a/b","payload":"6869"}
  echo "0x40, 0x02, 0x00, 0x0A, 0xC0, 0x00" | xsmqtt decode
    {"cmd":"puback","messageId":10}
    {"cmd":"pingreq"}
  xsmqtt decode -V 5 3009 000174 05 0b01 0bac02
    {"cmd":"publish","retain":false,"qos":0,"dup":false,"length":9,"topic":"t","payload":"","properties":{"subscriptionIdentifier":[1,300]}}
  xsmqtt decode --text -f capture.txt
  echo "c000 4002 0000" | xsmqtt decode
    {"cmd":"pingreq"}
    (stderr) line 1, byte 2: ProtocolError InvalidPacketId: puback with packet id 0
               40 02 [00 00]
`;

const HEX_DIGIT = /^[0-9a-fA-F]*$/;

/** Bytes of one input line, or a message saying where the hex is wrong. */
export function parseHexLine(text: string): { bytes: Uint8Array } | { error: string } {
  const out: number[] = [];
  const tokens = /[^\s,:]+/g;
  for (let m = tokens.exec(text); m; m = tokens.exec(text)) {
    const token = m[0];
    const prefixed = token.length >= 2 && token[0] === "0" && (token[1] === "x" || token[1] === "X");
    const digits = prefixed ? token.slice(2) : token;
    const column = m.index + 1;
    if (!HEX_DIGIT.test(digits)) {
      const bad = digits.search(/[^0-9a-fA-F]/);
      return { error: `"${digits[bad]}" at column ${column + (prefixed ? 2 : 0) + bad} is not a hex digit (in "${token}")` };
    }
    if (digits.length === 0) return { error: `"${token}" at column ${column} has no hex digits` };
    // "0x7" is unambiguous; a bare odd run ("300") more likely lost a digit
    if (digits.length % 2 !== 0 && !(prefixed && digits.length === 1))
      return { error: `"${token}" at column ${column} has an odd number of hex digits` };
    if (digits.length === 1) out.push(parseInt(digits, 16));
    else for (let i = 0; i < digits.length; i += 2) out.push(parseInt(digits.slice(i, i + 2), 16));
  }
  return { bytes: Uint8Array.from(out) };
}

/**
 * Where the packet at `start` ends: `bodyStart` after its fixed header and `end` after
 * its body (possibly past the data). Null if the line ends inside the remaining length or
 * it is malformed; the decoder will say which.
 */
function frame(d: Uint8Array, start: number): { bodyStart: number; end: number } | null {
  let remaining = 0;
  for (let k = 0; k < 4; k++) {
    const i = start + 1 + k;
    if (i >= d.length) return null;
    remaining += (d[i] & 0x7f) * 2 ** (7 * k);
    if (!(d[i] & 0x80)) return { bodyStart: i + 1, end: i + 1 + remaining };
  }
  return null;
}

const hex2 = (b: number) => (b < 16 ? "0" : "") + b.toString(16);

/** Bytes `d[a, b)` as spaced hex, eliding the middle past `head` + `tail` bytes. */
function spaced(d: Uint8Array, a: number, b: number, head: number, tail: number): string {
  const bytes = (x: number, y: number) => Array.from(d.subarray(x, y), hex2);
  if (b - a <= head + tail + 1) return bytes(a, b).join(" ");
  return [...bytes(a, a + head), `…${b - a - head - tail} bytes…`, ...bytes(b - tail, b)].join(" ");
}

/** Packets up to this many bytes are shown whole in error messages. */
const SHOW_WHOLE = 32;

/**
 * The packet `d[from, to)` with `[brackets]` around `d[ms, me)`, the bytes being read when
 * the decoder failed; a long packet is shortened away from the mark. `missing` > 0 adds
 * the count of bytes the line lacks, < 0 says the line ended with the size unknown.
 */
function excerpt(d: Uint8Array, from: number, to: number, ms: number, me: number, missing = 0): string {
  const whole = to - from <= SHOW_WHOLE;
  const parts = [];
  if (ms > from) parts.push(whole ? spaced(d, from, ms, SHOW_WHOLE, 0) : spaced(d, from, ms, 5, 8));
  if (me > ms) parts.push(`[${whole ? spaced(d, ms, me, SHOW_WHOLE, 0) : spaced(d, ms, me, 12, 4)}]`);
  if (to > me) parts.push(whole ? spaced(d, me, to, SHOW_WHOLE, 0) : spaced(d, me, to, 8, 0));
  if (missing > 0) parts.push(`[${missing} byte${missing === 1 ? "" : "s"} missing]`);
  else if (missing < 0) parts.push("[line ends]");
  return "  " + parts.join(" ");
}

interface Options {
  pretty: boolean;
  text: boolean;
  /** The protocol version the next line starts in: -V's, then the last CONNECT's. */
  version: number;
}

/** The protocol version a -V argument names, as mosquitto's clients spell it (and 5, 311). */
export function protocolVersion(v: string): number {
  if (v === "mqttv5" || v === "5") return 5;
  if (v === "mqttv311" || v === "311") return 4;
  throw new UsageError(`protocol version '${v}' is not supported; use mqttv5 (5) or mqttv311 (311)`);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
// C0 and C1 controls and DEL, except tab, line feed and carriage return
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** The payload as text, or undefined when it is not printable UTF-8. */
function asText(hex: string): string | undefined {
  let s: string;
  try {
    s = utf8.decode(Buffer.from(hex, "hex"));
  } catch {
    return undefined;
  }
  return CONTROL.test(s) ? undefined : s;
}

/** `o` with `payloadText` placed after each printable payload. */
function withText(o: PacketObject): object {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o)) {
    if (key === "will" && o.will) {
      const text = asText(o.will.payload);
      out.will = text === undefined ? o.will : { ...o.will, payloadText: text };
      continue;
    }
    out[key] = value;
    if (key === "payload") {
      const text = asText(value as string);
      if (text !== undefined) out.payloadText = text;
    }
  }
  return out;
}

/** Decodes one line's bytes, printing packets and at most one error; false on an error. */
function decodeLine(d: Uint8Array, line: number, opts: Options, io: CommandIo): boolean {
  const asm = new PayloadAssembler();
  const decoder: Decoder = new Decoder(
    Math.max(8, d.length),
    {
      onPacket(p) {
        const o = asm.add(p, decoder.version);
        if (o) io.out(JSON.stringify(opts.text ? withText(o) : o, null, opts.pretty ? 2 : undefined) + "\n");
      },
    },
    // a capture's aliases are whatever its CONNECT announced; the decoder checks only that they are not 0
    { protocolVersion: opts.version, topicAliasMaximum: 65535 },
  );
  const done = (ok: boolean) => {
    opts.version = decoder.version;
    return ok;
  };
  const fail = (at: number, what: string, shown: string) => {
    io.err(`line ${line}, byte ${at}: ${what}\n${shown}\n`);
    return done(false);
  };
  for (let at = 0; at < d.length; ) {
    const f = frame(d, at);
    const headerEnd = f ? f.bodyStart : Math.min(d.length, at + 5);
    const stop = f ? Math.min(f.end, d.length) : headerEnd;
    const truncated = !f || f.end > d.length;
    let i = at;
    try {
      for (; i < headerEnd; i++) decoder.push(d, i, i + 1);
      decoder.push(d, headerEnd, stop);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      // the receive buffer holds the line: a packet too large for it is one the line cut short
      if (!(truncated && e.code === "PacketTooLarge")) {
        const [ms, me] = i >= headerEnd ? [headerEnd, stop] : i === at ? [at, at + 1] : [at + 1, i + 1];
        return fail(at, `${e.name} ${e.code}: ${e.message}`, excerpt(d, at, stop, ms, me));
      }
    }
    if (truncated) {
      const name = PacketName[d[at] >> 4];
      const had = d.length - at;
      return f
        ? fail(at, `Truncated: ${name} needs ${f.end - at} bytes, the line has ${had}`, excerpt(d, at, stop, stop, stop, f.end - stop))
        : fail(at, `Truncated: the line ends inside the ${name} fixed header (${had} byte${had === 1 ? "" : "s"})`, excerpt(d, at, stop, stop, stop, -1));
    }
    at = f.end;
  }
  return done(true);
}

/** Decodes every input line; resolves to 1 if any line failed, else 0. Throws {@link UsageError}. */
export async function run(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    file: { type: "string", short: "f" },
    pretty: { type: "boolean" },
    text: { type: "boolean" },
    "protocol-version": { type: "string", short: "V" },
  });
  if (values.file !== undefined && positionals.length > 0) throw new UsageError("give hex either as arguments or with -f, not both");
  const pv = values["protocol-version"];
  const opts: Options = { pretty: !!values.pretty, text: !!values.text, version: pv === undefined ? 4 : protocolVersion(pv) };
  const source = positionals.length > 0 ? { inline: [positionals.join(" ")] } : { file: values.file };
  let failed = false;
  let line = 0;
  for await (const text of io.lines(source)) {
    line++;
    const hash = text.indexOf("#");
    const content = hash < 0 ? text : text.slice(0, hash);
    if (content.trim() === "") continue;
    const parsed = parseHexLine(content);
    if ("error" in parsed) {
      io.err(`line ${line}: invalid hex: ${parsed.error}\n`);
      failed = true;
      continue;
    }
    if (!decodeLine(parsed.bytes, line, opts, io)) failed = true;
  }
  return failed ? 1 : 0;
}
