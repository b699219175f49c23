/**
 * mosquitto_pub's and mosquitto_sub's command line, read with the same meanings: the
 * options, their checks, and the exit statuses and failures `xsmqtt pub` and `xsmqtt sub`
 * end with.
 */
import { MqttError } from "../../../src/mqtt/errors.js";
import { PROPERTIES, PropType, WILL } from "../../../src/mqtt/properties.js";
import { validateTopic, validateTopicFilter } from "../../../src/mqtt/topic.js";
import { isEngineName, ENGINE_NAMES, type EngineName } from "../../runtime/engine.js";
import type { CommandIo } from "../command.js";

export type Role = "pub" | "sub";

/**
 * Exit statuses, as mosquitto_pub and mosquitto_sub use them: 0 done, 1 any failure
 * (including a wrong command line), 1-5 a CONNACK refusal's return code, 7
 * (MOSQ_ERR_CONN_LOST) when a one-shot pub loses its connection, 27 (MOSQ_ERR_TIMEOUT)
 * when `sub -W` runs out.
 */
export const Exit = { Ok: 0, Failure: 1, ConnectionLost: 7, TimedOut: 27 } as const;

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
  engine: EngineName;
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
  /** 4 (MQTT 3.1.1, the default) or 5. */
  protocolVersion: 4 | 5;
  /** -x: the Session Expiry Interval (MQTT 5); null when not given. */
  sessionExpiry: number | null;
  /** -D: MQTT 5 properties per command ("connect", "publish", "will"), as the client takes them. */
  properties: Record<string, Record<string, unknown>>;
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
    protocolVersion: 4,
    sessionExpiry: null,
    properties: {},
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
  apply: (o, v) => (o.qos = int(v, 0, 2, `Invalid QoS given: ${v}`)),
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
  apply(o, v) {
    if (v === "mqttv311" || v === "311") o.protocolVersion = 4;
    else if (v === "mqttv5" || v === "5") o.protocolVersion = 5;
    else throw usageError(`protocol version '${v}' is not supported; xsmqtt speaks MQTT 3.1.1 (mqttv311, 311) and 5.0 (mqttv5, 5), not 3.1.`);
  },
});
flag(["-x"], {
  arg: "session expiry",
  apply(o, v) {
    // mosquitto: seconds, or -1, 4294967295 or ∞ for a session that never expires
    if (v === "-1" || v === "∞" || v === "4294967295") o.sessionExpiry = 0xffffffff;
    else {
      const n = integer(v, 0, 4294967294);
      if (Number.isNaN(n)) throw usageError("session-expiry-interval not a number.");
      o.sessionExpiry = n;
    }
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
    if (!isEngineName(v)) throw usageError(`--engine must be ${ENGINE_NAMES.map((n) => `"${n}"`).join(" or ")}, not '${v}'.`);
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

/**
 * -D's property names (mosquitto's, kebab-case) by the client's (mqtt-packet's) names;
 * the two that differ beyond case are "subscription-identifier-available" and "user-property".
 */
const PROPERTY_BY_FLAG = new Map<string, { name: string; id: number; type: number; contexts: number }>();
for (const [id, name, type, contexts] of PROPERTIES) {
  const kebab =
    name === "subscriptionIdentifiersAvailable" ? "subscription-identifier-available" : name === "userProperties" ? "user-property" : name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()).replace("-q-o-s", "-qos");
  PROPERTY_BY_FLAG.set(kebab, { name, id, type, contexts });
}

/** -D's commands, with the packet type whose properties each sets (0: the will's). */
const PROPERTY_COMMANDS: Record<string, number> = { connect: 1, publish: 3, puback: 4, pubrec: 5, pubrel: 6, pubcomp: 7, subscribe: 8, unsubscribe: 10, disconnect: 14, auth: 15, will: WILL };

/** What the xsmqtt client lets a command line set, per -D command. */
const SUPPORTED: Record<string, readonly string[]> = {
  connect: ["session-expiry-interval", "receive-maximum", "maximum-packet-size", "request-problem-information"],
  publish: ["payload-format-indicator", "message-expiry-interval", "content-type", "response-topic", "correlation-data", "user-property"],
  will: ["will-delay-interval", "payload-format-indicator", "message-expiry-interval", "content-type", "response-topic", "correlation-data", "user-property"],
};

/**
 * `-D command identifier value` (two values for user-property), read as mosquitto's clients
 * read it, in its words; returns how many arguments after -D it took. Values are checked
 * (mosquitto takes "abc" as 0; xsmqtt refuses it).
 */
function applyProperty(o: Options, args: string[], i: number): number {
  if (i + 3 > args.length) throw usageError("--property argument given but not enough arguments specified.");
  const command = args[i].toLowerCase();
  const name = args[i + 1].toLowerCase();
  const ctx = PROPERTY_COMMANDS[command];
  if (ctx === undefined) throw usageError("Invalid command given in --property argument.");
  const p = PROPERTY_BY_FLAG.get(name);
  if (!p) throw usageError("Invalid property name given in --property argument.");
  if (((p.contexts >> ctx) & 1) === 0) throw usageError(`${name} property not allowed for ${command} in --property argument.`);
  const pair = p.type === PropType.Pair;
  if (pair && i + 4 > args.length) throw usageError("--property argument given but not enough arguments specified.");
  if (!SUPPORTED[command]?.includes(name)) throw usageError(`${name} for ${command} is not supported by xsmqtt (see "xsmqtt help ${o.role}").`);
  const v = args[i + 2];
  const props = (o.properties[command] ??= {});
  const number = (max: number) => {
    const n = integer(v, 0, max);
    if (Number.isNaN(n)) throw usageError(`Invalid ${name} value '${v}' in --property argument.`);
    return n;
  };
  switch (p.type) {
    case PropType.Byte:
      props[p.name] = number(1) === 1;
      break;
    case PropType.U16:
      props[p.name] = number(65535);
      break;
    case PropType.U32:
    case PropType.Varint:
      props[p.name] = number(p.type === PropType.U32 ? 4294967295 : 268435455);
      break;
    case PropType.Pair: {
      const users = (props.userProperties ??= {}) as Record<string, string | string[]>;
      const had = users[v];
      const value = args[i + 3];
      users[v] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
      return 4;
    }
    default:
      props[p.name] = v; // a string; binary data (correlation-data) as its UTF-8, as mosquitto sends it
  }
  return 3;
}

/** The usage lines of -V, -x and -D, which pub and sub share. */
export const VERSION_USAGE = `  -V version          mqttv311 or 311 (MQTT 3.1.1, the default), mqttv5 or 5 (MQTT 5.0)
  -x seconds          MQTT 5: the Session Expiry Interval (-1 or 4294967295: never);
                      default 0, or never with -c
  -D command property value
                      MQTT 5: a property, named as mosquitto names it. xsmqtt takes
                      connect: session-expiry-interval, receive-maximum,
                        maximum-packet-size, request-problem-information;
                      will: will-delay-interval and the publish ones;
                      publish: payload-format-indicator, message-expiry-interval,
                        content-type, response-topic, correlation-data,
                        user-property name value (repeatable)
                      (ignored under 3.1.1, as mosquitto does). Refusals under 5.0 give
                      the reason code's name and the broker's Reason String; the exit
                      status is the reason code`;

/** The checks across options that mosquitto makes once every option is read. */
function checkTogether(o: Options): void {
  const w = o.will;
  if (w.topic === null && (w.payload !== null || w.qos !== null || w.retain)) throw usageError("Will payload, QoS or retain given, but no will topic given.");
  if ((o.cert === null) !== (o.key === null)) throw usageError("Both certfile and keyfile must be provided if one of them is set.");
  if (!o.clean && o.clientId === null) throw usageError("You must provide a client id if you are using the -c option.");
  if (o.password !== null && o.username === null && o.protocolVersion === 4) throw usageError("a password needs a username (-u): MQTT 3.1.1 sends a password only with a user name.");
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
    if (name === "-D" || name === "--property") {
      i += applyProperty(o, args, i + 1);
      continue;
    }
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

/** The client id: -i, else -I's prefix with the process id, else `xsmqtt_<role>_<pid>`. */
export function clientIdOf(o: Options): string {
  if (o.clientId !== null) return o.clientId;
  if (o.idPrefix !== null) return `${o.idPrefix}${process.pid}`;
  return `xsmqtt_${o.role}_${process.pid}`;
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
