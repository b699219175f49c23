/**
 * What `xsmqtt pub` and `xsmqtt sub` share: mosquitto_pub's and mosquitto_sub's command
 * line, read with the same meanings, and a {@link Link} to one broker through the xsmqtt
 * client on either engine.
 *
 * Both engines run the client through the test driver (host-test/client/driver.ts): on
 * "node" it is called directly over the Node platform; on "xs" the same compiled driver
 * runs inside the real XS engine (xsnap) and its JSON ops and events cross the bridge
 * (host-test/xs/bridge.ts). The commands see one stream of driver events either way, so
 * their behaviour cannot differ between engines. Sockets and TLS live in Node in both
 * cases, which is where `-d` reads the packets from.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { makeDriver, type DriverOptions } from "../../host-test/client/driver.js";
import { Decoder } from "../../src/mqtt/decode.js";
import { MqttError } from "../../src/mqtt/errors.js";
import { toHex } from "../inspect.js";
import { PacketName, PacketType as T, type Packet } from "../../src/mqtt/packet.js";
import type { Platform, Transport, TransportSink } from "../../src/mqtt/platform.js";
import { validateTopic, validateTopicFilter } from "../../src/mqtt/topic.js";
import { decodeUtf8 } from "../../src/mqtt/utf8.js";
import { nodePlatform, type NodeBroker } from "../../src/platform/node/index.js";
import type { CommandIo } from "../cli.js";

export type Role = "pub" | "sub";

/**
 * Exit statuses, as mosquitto_pub and mosquitto_sub use them: 0 done, 1 any failure
 * (including a wrong command line), 1-5 a CONNACK refusal's return code, 27
 * (MOSQ_ERR_TIMEOUT) when `sub -W` runs out.
 */
export const Exit = { Ok: 0, Failure: 1, TimedOut: 27 } as const;

/** Ends a command: `message` (one line, or "" for none) goes to standard error, `status` is the exit status. */
export class Failure extends Error {
  constructor(
    message: string,
    readonly status: number = Exit.Failure,
    /** A wrong command line: the usage follows the message. */
    readonly usage = false,
  ) {
    super(message);
    this.name = "Failure";
  }
}

const usageError = (message: string) => new Failure(`Error: ${message}`, Exit.Failure, true);

/** How `pub` gets its payload: -m, -f, -s, -n or -l. */
export type MessageSource = { kind: "message"; text: string } | { kind: "file"; file: string } | { kind: "stdin" } | { kind: "null" } | { kind: "lines" };

/** The command line, read. Fields that only one command takes stay at their defaults for the other. */
export interface Options {
  role: Role;
  help: boolean;
  engine: "node" | "xs";
  /** Null: not given (127.0.0.1, with TLS names checked against "localhost"). */
  host: string | null;
  /** Null: not given (1883, or 8883 with TLS). */
  port: number | null;
  /** Topic to publish to (pub), or filters to subscribe to (sub). */
  topics: string[];
  qos: number;
  clientId: string | null;
  idPrefix: string | null;
  clean: boolean;
  keepalive: number;
  username: string | null;
  password: string | null;
  will: { topic: string | null; payload: string | null; qos: number | null; retain: boolean };
  cafile: string | null;
  capath: string | null;
  cert: string | null;
  key: string | null;
  /** Set by --tls-use-os-certs and mqtts:// URLs. */
  osCerts: boolean;
  insecure: boolean;
  debug: boolean;
  quiet: boolean;
  // pub
  source: MessageSource | null;
  retain: boolean;
  repeat: number;
  repeatDelay: number;
  maxInflight: number;
  // sub
  count: number;
  /** Seconds; 0 for none. */
  timeout: number;
  verbose: boolean;
  eol: boolean;
  noRetained: boolean;
}

function defaults(role: Role): Options {
  return {
    role,
    help: false,
    engine: "node",
    host: null,
    port: null,
    topics: [],
    qos: 0,
    clientId: null,
    idPrefix: null,
    clean: true,
    keepalive: 60,
    username: null,
    password: null,
    will: { topic: null, payload: null, qos: null, retain: false },
    cafile: null,
    capath: null,
    cert: null,
    key: null,
    osCerts: false,
    insecure: false,
    debug: false,
    quiet: false,
    source: null,
    retain: false,
    repeat: 1,
    repeatDelay: 0,
    maxInflight: 20,
    count: 0,
    timeout: 0,
    verbose: false,
    eol: true,
    noRetained: false,
  };
}

/** An integer in [min, max] written in decimal, or NaN. */
function integer(text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) return NaN;
  const n = Number(text);
  return n >= min && n <= max ? n : NaN;
}

function checkTopic(o: Options, topic: string, from: string): void {
  try {
    if (o.role === "pub") validateTopic(topic);
    else validateTopicFilter(topic);
  } catch (e) {
    if (!(e instanceof MqttError)) throw e;
    throw usageError(
      o.role === "pub"
        ? `Invalid publish topic '${topic}' (${from}), does it contain '+' or '#'? ${e.message}`
        : `Invalid subscription topic '${topic}' (${from}), are all '+' and '#' wildcards correct? ${e.message}`,
    );
  }
}

function addTopic(o: Options, topic: string, from: string): void {
  checkTopic(o, topic, from);
  if (o.role === "pub" && o.topics.length > 0) throw usageError("give one topic to publish to (-t or -L), not several");
  o.topics.push(topic);
}

/**
 * `-L mqtt(s)://[username[:password]@]host[:port]/topic`, as mosquitto reads it: no
 * percent-decoding; everything after the first "/" is the topic, so "#" and "+" may be
 * written as they are.
 */
function applyUrl(o: Options, url: string): void {
  const m = /^(mqtts?):\/\/(.*)$/is.exec(url);
  if (!m) throw usageError(`unsupported URL scheme in '${url}' (use mqtt:// or mqtts://).`);
  const secure = m[1].toLowerCase() === "mqtts";
  const rest = m[2];
  const slash = rest.indexOf("/");
  if (slash < 0) throw usageError("Invalid URL for -L argument specified - topic missing.");
  let authority = rest.slice(0, slash);
  const at = authority.lastIndexOf("@");
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    authority = authority.slice(at + 1);
    const colon = userinfo.indexOf(":");
    o.username = colon < 0 ? userinfo : userinfo.slice(0, colon);
    if (colon >= 0) o.password = userinfo.slice(colon + 1);
  }
  let host = authority;
  let port = secure ? 8883 : 1883;
  const bracket = /^\[([^\]]*)\](?::(.*))?$/.exec(authority); // [::1]:1883
  const colon = authority.lastIndexOf(":");
  let portText: string | undefined;
  if (bracket) {
    host = bracket[1];
    portText = bracket[2];
  } else if (colon >= 0) {
    host = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
  }
  if (portText !== undefined) {
    port = integer(portText, 1, 65535);
    if (Number.isNaN(port)) throw usageError(`Invalid port in URL '${url}'.`);
  }
  if (host === "") throw usageError(`no host in URL '${url}'.`);
  o.host = host;
  o.port = port;
  if (secure) o.osCerts = true;
  addTopic(o, rest.slice(slash + 1), "-L");
}

/** One command-line option. */
interface Flag {
  /** The command that takes it; both when absent. */
  role?: Role;
  /** What its value is called, for "-x argument given but no <arg> specified"; absent for a switch. */
  arg?: string;
  apply(o: Options, value: string): void;
}

const FLAGS = new Map<string, Flag>();

function flag(names: string[], f: Flag): void {
  for (const n of names) FLAGS.set(n, f);
}

/** `text` as an integer in [min, max], else a usage error with `message`. */
function int(text: string, min: number, max: number, message: string): number {
  const n = integer(text, min, max);
  if (Number.isNaN(n)) throw usageError(message);
  return n;
}

/** `text` as a number of seconds (fractions allowed) at least `min`, else a usage error. */
function seconds(text: string, min: number, message: string): number {
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (!(n >= min)) throw usageError(message);
  return n;
}

function setSource(o: Options, s: MessageSource): void {
  if (o.source) throw usageError("Only one type of message can be sent at once.");
  o.source = s;
}

// shared
flag(["--help"], { apply: (o) => (o.help = true) });
flag(["-h", "--host"], {
  arg: "host",
  apply(o, v) {
    if (v === "") throw usageError("-h argument given but no host specified.");
    o.host = v;
  },
});
flag(["-p", "--port"], { arg: "port", apply: (o, v) => (o.port = int(v, 1, 65535, `Invalid port given: ${v}`)) });
flag(["-L", "--url"], { arg: "URL", apply: applyUrl });
flag(["-t", "--topic"], { arg: "topic", apply: (o, v) => addTopic(o, v, "-t") });
flag(["-q", "--qos"], {
  arg: "QoS",
  apply(o, v) {
    o.qos = int(v, 0, 2, `Invalid QoS given: ${v}`);
    if (o.role === "pub" && o.qos === 2) throw usageError("QoS 2 is not supported for publishing: xsmqtt publishes with QoS 0 or 1.");
  },
});
flag(["-i", "--id"], {
  arg: "id",
  apply(o, v) {
    if (o.idPrefix !== null) throw usageError("-i and -I argument cannot be used together.");
    o.clientId = v;
  },
});
flag(["-I", "--id-prefix"], {
  arg: "id prefix",
  apply(o, v) {
    if (o.clientId !== null) throw usageError("-i and -I argument cannot be used together.");
    o.idPrefix = v;
  },
});
flag(["-u", "--username"], { arg: "username", apply: (o, v) => (o.username = v) });
flag(["-P", "--pw"], { arg: "password", apply: (o, v) => (o.password = v) });
flag(["-k", "--keepalive"], {
  arg: "keepalive",
  apply: (o, v) => (o.keepalive = int(v, 0, 65535, `Invalid keepalive given: ${v}; it must be between 0 (off) and 65535 inclusive.`)),
});
flag(["-c", "--disable-clean-session"], { apply: (o) => (o.clean = false) });
flag(["-d", "--debug"], { apply: (o) => (o.debug = true) });
flag(["--quiet"], { apply: (o) => (o.quiet = true) });
flag(["-V", "--protocol-version"], {
  arg: "version",
  apply(_, v) {
    if (v !== "mqttv311" && v !== "311") throw usageError(`protocol version '${v}' is not supported; xsmqtt speaks MQTT 3.1.1 (mqttv311) only.`);
  },
});
flag(["--will-topic"], {
  arg: "will topic",
  apply(o, v) {
    try {
      validateTopic(v);
    } catch (e) {
      if (!(e instanceof MqttError)) throw e;
      throw usageError(`Invalid will topic '${v}', does it contain '+' or '#'? ${e.message}`);
    }
    o.will.topic = v;
  },
});
flag(["--will-payload"], { arg: "will payload", apply: (o, v) => (o.will.payload = v) });
flag(["--will-qos"], { arg: "will QoS", apply: (o, v) => (o.will.qos = int(v, 0, 2, `Invalid will QoS ${v}.`)) });
flag(["--will-retain"], { apply: (o) => (o.will.retain = true) });
flag(["--cafile"], { arg: "file", apply: (o, v) => (o.cafile = v) });
flag(["--capath"], { arg: "directory", apply: (o, v) => (o.capath = v) });
flag(["--cert"], { arg: "file", apply: (o, v) => (o.cert = v) });
flag(["--key"], { arg: "file", apply: (o, v) => (o.key = v) });
flag(["--tls-use-os-certs"], { apply: (o) => (o.osCerts = true) });
flag(["--insecure"], { apply: (o) => (o.insecure = true) });
flag(["--engine"], {
  arg: "engine",
  apply(o, v) {
    if (v !== "node" && v !== "xs") throw usageError(`--engine must be "node" or "xs", not '${v}'.`);
    o.engine = v;
  },
});

// pub
flag(["-m", "--message"], { role: "pub", arg: "message", apply: (o, v) => setSource(o, { kind: "message", text: v }) });
flag(["-f", "--file"], { role: "pub", arg: "file", apply: (o, v) => setSource(o, { kind: "file", file: v }) });
flag(["-s", "--stdin-file"], { role: "pub", apply: (o) => setSource(o, { kind: "stdin" }) });
flag(["-l", "--stdin-line"], { role: "pub", apply: (o) => setSource(o, { kind: "lines" }) });
flag(["-n", "--null-message"], { role: "pub", apply: (o) => setSource(o, { kind: "null" }) });
flag(["-r", "--retain"], { role: "pub", apply: (o) => (o.retain = true) });
flag(["--repeat"], { role: "pub", arg: "count", apply: (o, v) => (o.repeat = int(v, 1, 2 ** 31, `--repeat argument must be >0, not '${v}'.`)) });
flag(["--repeat-delay"], { role: "pub", arg: "time", apply: (o, v) => (o.repeatDelay = seconds(v, 0, `--repeat-delay argument must be >=0.0 seconds, not '${v}'.`)) });
flag(["-M"], { role: "pub", arg: "max_inflight", apply: (o, v) => (o.maxInflight = int(v, 1, 65535, "Maximum inflight messages must be greater than 0.")) });

// sub
flag(["-C"], { role: "sub", arg: "count", apply: (o, v) => (o.count = int(v, 1, 2 ** 31, `Invalid message count "${v}".`)) });
flag(["-W"], { role: "sub", arg: "timeout", apply: (o, v) => (o.timeout = seconds(v, Number.MIN_VALUE, `Invalid timeout "${v}".`)) });
flag(["-v", "--verbose"], { role: "sub", apply: (o) => (o.verbose = true) });
flag(["-N"], { role: "sub", apply: (o) => (o.eol = false) });
flag(["-R"], { role: "sub", apply: (o) => (o.noRetained = true) });

/** The checks across options that mosquitto makes once every option is read. */
function checkTogether(o: Options): void {
  const w = o.will;
  if (w.topic === null && (w.payload !== null || w.qos !== null || w.retain)) throw usageError("Will payload, QoS or retain given, but no will topic given.");
  if ((o.cert === null) !== (o.key === null)) throw usageError("Both certfile and keyfile must be provided if one of them is set.");
  if (!o.clean && o.clientId === null) throw usageError("You must provide a client id if you are using the -c option.");
  if (o.password !== null && o.username === null) throw usageError("a password needs a username (-u): MQTT 3.1.1 sends a password only with a user name.");
  if (o.role === "pub") {
    if (o.topics.length === 0 || o.source === null) throw usageError("Both topic and message must be supplied.");
    if (o.source.kind === "lines" && o.repeat > 1) throw usageError("--repeat applies to -m, -f, -s and -n, not to -l.");
  } else if (o.topics.length === 0) throw usageError("You must specify a topic to subscribe to.");
}

/**
 * Reads `args` as mosquitto_pub (`role` "pub") or mosquitto_sub ("sub") would, with
 * `--long=value` also accepted. Throws {@link Failure} with `usage` set for anything
 * wrong, in mosquitto's words where it has them. Files named by options are not read here.
 */
export function parseCommandLine(args: string[], role: Role): Options {
  const o = defaults(role);
  for (let i = 0; i < args.length; i++) {
    const eq = args[i].startsWith("--") ? args[i].indexOf("=") : -1;
    const name = eq > 2 ? args[i].slice(0, eq) : args[i];
    const inline = eq > 2 ? args[i].slice(eq + 1) : undefined;
    const f = FLAGS.get(name);
    if (!f) throw usageError(`Unknown option '${args[i]}'.`);
    if (f.role && f.role !== role) throw usageError(`Unknown option '${name}' (it is an option of "xsmqtt ${f.role}").`);
    let value = "";
    if (f.arg) {
      if (inline !== undefined) value = inline;
      else if (i + 1 < args.length) value = args[++i];
      else throw usageError(`${name} argument given but no ${f.arg} specified.`);
    } else if (inline !== undefined) throw usageError(`${name} takes no value.`);
    f.apply(o, value);
  }
  if (!o.help) checkTogether(o);
  return o;
}

/** The whole file, or a {@link Failure} naming the option it came from. */
export function readOptionFile(file: string, option: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Failure(`Error: cannot read ${option} '${file}': ${(e as Error).message}`);
  }
}

/** Whether any TLS option is in play (mosquitto also turns TLS on for port 8883). */
export function usesTls(o: Options): boolean {
  return o.cafile !== null || o.capath !== null || o.cert !== null || o.osCerts || o.port === 8883;
}

/** The CA certificates of a directory: every file in it that holds a PEM certificate. */
function readCaPath(dir: string): string {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    throw new Failure(`Error: cannot read --capath '${dir}': ${(e as Error).message}`);
  }
  const pems: string[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      const text = readFileSync(file, "utf8");
      if (text.includes("-----BEGIN CERTIFICATE-----")) pems.push(text);
    } catch {
      // unreadable entries are skipped, as OpenSSL's hashed-directory lookup would
    }
  }
  if (pems.length === 0) throw new Failure(`Error: --capath '${dir}' holds no PEM certificates.`);
  return pems.join("\n");
}

/** The broker entry for the client: address, and TLS settings as PEM text. Reads the TLS files. */
export function brokerOf(o: Options): NodeBroker {
  const secure = usesTls(o);
  const broker: NodeBroker = { host: o.host ?? "127.0.0.1", port: o.port ?? (secure ? 8883 : 1883) };
  if (!secure) return broker;
  broker.tls = true;
  // the default host is "localhost": certificates name it so, though we dial 127.0.0.1
  if (o.host === null) broker.servername = "localhost";
  const ca: string[] = [];
  if (o.cafile !== null) ca.push(readOptionFile(o.cafile, "--cafile").toString("utf8"));
  if (o.capath !== null) ca.push(readCaPath(o.capath));
  if (ca.length > 0) broker.ca = o.osCerts ? [...tls.rootCertificates, ...ca].join("\n") : ca.join("\n");
  if (o.cert !== null) broker.cert = readOptionFile(o.cert, "--cert").toString("utf8");
  if (o.key !== null) broker.key = readOptionFile(o.key, "--key").toString("utf8");
  return broker;
}

/** The client id: -i, else -I's prefix with the process id, else `xsmqtt_<role>_<pid>`. */
export function clientIdOf(o: Options): string {
  if (o.clientId !== null) return o.clientId;
  if (o.idPrefix !== null) return `${o.idPrefix}${process.pid}`;
  return `xsmqtt_${o.role}_${process.pid}`;
}

/** mosquitto_connack_string's words for CONNACK return codes 1-5. */
const CONNACK_TEXT = [
  "Connection Accepted.",
  "Connection Refused: unacceptable protocol version.",
  "Connection Refused: identifier rejected.",
  "Connection Refused: broker unavailable.",
  "Connection Refused: bad user name or password.",
  "Connection Refused: not authorised.",
];

export function connackText(code: number): string {
  return CONNACK_TEXT[code] ?? `Connection Refused: unknown reason (${code}).`;
}

// ---- the -d packet log ----

const bit = (b: boolean) => (b ? 1 : 0);

/** One packet as libmosquitto's debug log shows it. */
function describePacket(p: Packet): string[] {
  const d = p.data;
  const text = (start: number, length: number) => decodeUtf8(d, start, start + length);
  switch (p.type) {
    case T.CONNECT:
      return ["CONNECT"];
    case T.CONNACK:
      return [`CONNACK (${p.returnCode})`];
    case T.PUBLISH:
      return [`PUBLISH (d${bit(p.dup)}, q${p.qos}, r${bit(p.retain)}, m${p.packetId}, '${text(p.topicStart, p.topicLength)}', ... (${p.payloadLength} bytes))`];
    case T.PUBACK:
    case T.PUBREC:
    case T.PUBREL:
    case T.PUBCOMP:
    case T.UNSUBSCRIBE:
    case T.UNSUBACK:
      return [`${PacketName[p.type].toUpperCase()} (Mid: ${p.packetId})`];
    case T.SUBSCRIBE: {
      const lines: string[] = [];
      for (let k = p.payloadStart; k < p.payloadEnd; ) {
        const n = (d[k] << 8) | d[k + 1];
        lines.push(`SUBSCRIBE (Mid: ${p.packetId}, Topic: ${text(k + 2, n)}, QoS: ${d[k + 2 + n]})`);
        k += 3 + n;
      }
      return lines;
    }
    case T.SUBACK:
      return ["SUBACK", `Subscribed (mid: ${p.packetId}): ${Array.from(d.subarray(p.payloadStart, p.payloadEnd)).join(", ")}`];
    default:
      return [PacketName[p.type].toUpperCase()];
  }
}

/** Decodes one direction of a connection for the log; stops at the first undecodable byte. */
function packetLog(verb: string, clientId: string, log: (line: string) => void, onDisconnect?: () => void): (d: Uint8Array, start: number, end: number) => void {
  const decoder = new Decoder(4096, {
    onPacket(p) {
      if (p.type === T.DISCONNECT) onDisconnect?.();
      if (p.type === T.PUBLISH && p.payloadOffset > 0) return; // later fragments of a large one
      for (const line of describePacket(p)) log(line.startsWith("Subscribed") ? line : `Client ${clientId} ${verb} ${line}`);
    },
  });
  let failed = false;
  return (d, start, end) => {
    if (failed || end <= start) return;
    try {
      decoder.push(d, start, end);
    } catch (e) {
      failed = true;
      log(`Client ${clientId} ${verb} bytes that do not decode: ${(e as Error).message}`);
    }
  };
}

/** `platform` with every packet sent and received written to `log`. */
function tapped(platform: Platform, clientId: string, log: (line: string) => void): Platform {
  return {
    ...platform,
    connect(broker, sink) {
      log(`Client ${clientId} connecting to ${broker.host}:${broker.port}${broker.tls ? " with TLS" : ""}`);
      let disconnecting = false;
      const sent = packetLog("sending", clientId, log, () => (disconnecting = true));
      const received = packetLog("received", clientId, log);
      const inner: TransportSink = {
        onConnect: () => sink.onConnect(),
        onData: (d, s, e) => {
          received(d, s, e);
          sink.onData(d, s, e);
        },
        onWritable: () => sink.onWritable(),
        onClose: (reason) => {
          // a broker closes after DISCONNECT; on XS that can be seen before the client's own close
          if (reason || !disconnecting) log(`Client ${clientId} connection closed${reason ? `: ${reason}` : " by the broker"}`);
          sink.onClose(reason);
        },
      };
      const t: Transport = platform.connect(broker, inner);
      return {
        write(d, s, e) {
          const n = t.write(d, s, e);
          sent(d, s, s + n);
          return n;
        },
        writePacket(h, b) {
          if (!t.writePacket(h, b)) return false;
          sent(h, 0, h.length);
          sent(b, 0, b.length);
          return true;
        },
        close: () => t.close(),
      };
    },
  };
}

// ---- the link to the broker ----

/** An inbound message (or one fragment of a large one) as the commands see it. */
export interface Inbound {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  /** More fragments follow. */
  more: boolean;
  /** Where this fragment starts in the whole payload. */
  offset: number;
}

export interface LinkOptions {
  /** Sizes for the client (see ClientOptions). */
  outboxBytes?: number;
  receiveBufferSize?: number;
  sendBufferSize?: number;
  /** A connection that drops after CONNACK ends the command (pub), or the client reconnects (sub). */
  lostIsFatal: boolean;
  onMessage?(m: Inbound): void;
  onDelivered?(token: number): void;
  onSuback?(filter: string, granted: number): void;
}

/** A driver event, as JSON. */
type Event = { type: string; [k: string]: any };

const here = path.dirname(fileURLToPath(import.meta.url));
const NAME = "cli";

/**
 * One client, on the engine the options name, and the command's view of its state.
 * Waiting is done with {@link until}, which rejects with the {@link Failure} that ends
 * the command as soon as one happens (a refusal, a lost connection, a timeout).
 */
export class Link {
  connected = false;
  private everConnected = false;
  private failure: Failure | null = null;
  private waiters: { test: () => boolean; resolve: () => void; reject: (f: Failure) => void }[] = [];
  private call: (op: string, ...args: unknown[]) => Promise<any> = async () => null;
  private release: () => Promise<void> = async () => {};
  private closed = false;
  readonly clientId: string;
  private readonly o: Options;
  private readonly io: CommandIo;
  private readonly lo: LinkOptions;

  constructor(o: Options, io: CommandIo, lo: LinkOptions) {
    this.o = o;
    this.io = io;
    this.lo = lo;
    this.clientId = clientIdOf(o);
  }

  /** A diagnostic line on standard error, unless --quiet. */
  say(line: string): void {
    if (!this.o.quiet) this.io.err(line + "\n");
  }

  /** A -d line. */
  debug(line: string): void {
    if (this.o.debug && !this.o.quiet) this.io.err(line + "\n");
  }

  /**
   * Starts the engine, creates the client, runs `prepare` (subscriptions made there go
   * out in the first SUBSCRIBE), and connects; resolves at CONNACK. Throws {@link Failure}.
   */
  async open(prepare?: () => Promise<void>): Promise<void> {
    const o = this.o;
    const broker = brokerOf(o);
    if (o.insecure && broker.tls) allowAnyServerName();
    const options: DriverOptions = {
      clientId: this.clientId,
      brokers: [broker],
      clean: o.clean,
      keepalive: o.keepalive,
      will:
        o.will.topic === null
          ? null
          : { topic: o.will.topic, payload: Buffer.from(o.will.payload ?? "", "utf8").toString("hex"), qos: o.will.qos ?? 0, retain: o.will.retain },
      username: o.username,
      password: o.password === null ? null : Buffer.from(o.password, "utf8").toString("hex"),
      inflightWindow: o.maxInflight,
      outboxBytes: this.lo.outboxBytes,
      receiveBufferSize: this.lo.receiveBufferSize,
      sendBufferSize: this.lo.sendBufferSize,
      queuePolicy: "refuse",
    };
    const onEvent = (e: object) => this.event(e as Event);
    const platform = o.debug && !o.quiet ? (p: Platform) => tapped(p, this.clientId, (l) => this.io.err(l + "\n")) : (p: Platform) => p;
    if (o.engine === "node") {
      const driver = makeDriver(platform(nodePlatform()), onEvent) as unknown as Record<string, (...a: unknown[]) => unknown>;
      this.call = async (op, ...args) => driver[op](...args);
      this.release = async () => {};
    } else {
      const { XsBridge } = await import("../../host-test/xs/bridge.js");
      const entry = path.join(here, "../../host-test/client/xs-entry.js");
      let bridge: Awaited<ReturnType<typeof XsBridge.start>>;
      try {
        // the bridge dials with the same (tapped, under -d) Node platform, so both engines log the same bytes
        bridge = await XsBridge.start(entry, onEvent, `xsmqtt-${o.role}`, platform(nodePlatform()));
      } catch (e) {
        throw new Failure(`Error: cannot start the XS engine: ${(e as Error).message}`);
      }
      this.call = async (op, ...args) => (await bridge.call(op, ...args)).result;
      this.release = async () => {
        for (const f of bridge.failures) this.say(`Error inside the XS engine: ${f}`);
        await bridge.close();
      };
    }
    await this.call("create", NAME, options);
    await prepare?.();
    await this.call("connect", NAME);
    await this.until(() => this.connected);
  }

  /** Queues a message; resolves to its token. Waits for room when the outbox is full. Throws {@link Failure}. */
  async publish(topic: string, payload: Uint8Array, qos: number, retain: boolean, delivered: () => number): Promise<number> {
    for (;;) {
      const before = delivered();
      const r = await this.call("publish", NAME, topic, { hex: toHex(payload) }, { qos, retain });
      if (r && typeof r.token === "number") return r.token;
      const err = r?.error ?? { code: "?", message: "publish failed" };
      if (err.code !== "QueueFull") throw new Failure(`Error: ${err.message} (${err.code})`);
      await this.until(() => delivered() > before);
    }
  }

  async subscribe(filter: string, qos: number): Promise<void> {
    const r = await this.call("subscribe", NAME, filter, qos, false);
    if (r?.error) throw new Failure(`Error: cannot subscribe to '${filter}': ${r.error.message}`);
  }

  /** Resolves once `test()` holds (checked after every event); rejects with the first failure. */
  until(test: () => boolean): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ test, resolve, reject }));
  }

  /** Rejects with the failure that ends the command, whenever it comes. */
  failed(): Promise<never> {
    return new Promise<never>((_, reject) => this.waiters.push({ test: () => false, resolve: () => undefined, reject }));
  }

  /** Waits `ms`, or less if the command fails meanwhile. */
  async sleep(ms: number): Promise<void> {
    let done = false;
    const t = setTimeout(() => {
      done = true;
      this.changed();
    }, ms);
    try {
      await this.until(() => done);
    } finally {
      clearTimeout(t);
    }
  }

  /** Ends the command with `f`: every wait rejects with it. The first failure wins. */
  fail(f: Failure): void {
    if (this.failure) return;
    this.failure = f;
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.reject(f);
  }

  /** Re-checks the waits; call after changing what they test. */
  changed(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.test());
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  /** Sends DISCONNECT if connected, closes the client and stops the engine. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    try {
      await this.call("close", NAME);
    } finally {
      await this.release();
    }
  }

  private event(e: Event): void {
    if (this.closed) return;
    switch (e.type) {
      case "connect":
        this.connected = this.everConnected = true;
        break;
      case "disconnect":
        this.connected = false;
        if (this.lo.lostIsFatal) this.fail(new Failure(`Error: The connection was lost: ${e.message ?? "closed by the broker"}`));
        else this.debug(`Client ${this.clientId} lost the connection (${e.message ?? "closed by the broker"}); reconnecting`);
        break;
      case "error":
        if (e.code === "ConnectionRefused") this.fail(new Failure(`Connection error: ${connackText(e.returnCode)}`, e.returnCode || Exit.Failure));
        else if (!this.everConnected) this.fail(new Failure(`Connection error: ${e.message}`));
        else if (e.code !== "SubscriptionRefused") /* the SUBACK reports those */ this.debug(`Client ${this.clientId} error: ${e.message} (${e.code})`);
        break;
      case "delivered":
        this.lo.onDelivered?.(e.token);
        break;
      case "message":
        this.lo.onMessage?.({ topic: e.topic, payload: Buffer.from(e.payload, "hex"), qos: e.qos, retain: e.retain, more: e.more, offset: e.offset });
        break;
      case "suback":
        this.lo.onSuback?.(e.filter, e.granted);
        break;
    }
    this.changed();
  }
}

let anyServerName = false;

/**
 * --insecure, as mosquitto means it: the server's certificate chain is still verified
 * against the CAs, but not the host name in it. The Node platform passes no
 * `checkServerIdentity` of its own, so tls.connect takes the module's, which this
 * replaces for the rest of this (one-connection) process.
 */
function allowAnyServerName(): void {
  if (anyServerName) return;
  anyServerName = true;
  (tls as { checkServerIdentity: typeof tls.checkServerIdentity }).checkServerIdentity = () => undefined;
}

/**
 * Runs pub or sub: parses the command line for `role`, answers --help, then runs `action`;
 * a {@link Failure} becomes its message on stderr (with the usage for command-line errors)
 * and its exit status.
 */
export async function runCommand(args: string[], role: Role, io: CommandIo, usage: string, action: (o: Options, io: CommandIo) => Promise<number>): Promise<number> {
  let o: Options | null = null;
  try {
    o = parseCommandLine(args, role);
    if (o.help) {
      io.out(usage);
      return 0;
    }
    return await action(o, io);
  } catch (e) {
    if (!(e instanceof Failure)) throw e;
    if (e.usage) io.err(`${e.message}\n\n${usage}`);
    // one line, whatever the reason it quotes (OpenSSL's end in a line break)
    else if (e.message !== "" && o?.quiet !== true) io.err(e.message.replace(/\s*\n\s*/g, " ").trim() + "\n");
    return e.status;
  }
}
