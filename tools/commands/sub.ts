/**
 * `xsmqtt sub`: mosquitto_sub's command line over the xsmqtt client, on Node or inside
 * XS. Prints each message's payload on standard output, one per line; diagnostics go to
 * standard error. Runs until -C messages, -W seconds, or SIGINT/SIGTERM, then sends
 * DISCONNECT.
 */
import { processIo, type CommandIo } from "./command.js";
import { Exit, Failure, runCommand, VERSION_USAGE, type Options } from "./mqtt/flags.js";
import { Link, type Inbound } from "./mqtt/link.js";

/** None: `-h` is the host, and the parser itself reads `--help` where it is an option. */
export const helpFlags: readonly string[] = [];

/** Printed by `xsmqtt help sub` and `xsmqtt sub --help`. */
export const usage = `usage: xsmqtt sub {[-h host] [-p port] [-u username [-P password]] -t topic ...
                   | -L URL [-t topic ...]}
                  [-q qos] [-C count] [-W seconds] [-v] [-N] [-R]
                  [-c] [-i id | -I id_prefix] [-k keepalive]
                  [--will-topic topic [--will-payload payload] [--will-qos qos] [--will-retain]]
                  [{--cafile file | --capath dir | --tls-use-os-certs}
                   [--cert file --key file] [--insecure]]
                  [-d] [--quiet] [-V mqttv311|mqttv5] [-x session_expiry]
                  [-D command property value] [--engine node|xs]
       xsmqtt sub --help

Subscribes with the xsmqtt client and prints the messages it receives, taking
mosquitto_sub's options with the same meanings. Each payload is written as it came
(bytes, not re-encoded) followed by a line end; an empty payload prints nothing (with
-v: "topic (null)"). After a lost connection the client reconnects and subscribes again.
SIGINT (Ctrl-C) or SIGTERM sends DISCONNECT and exits 0.

  -h, --host host     broker host name or address (default localhost; dials 127.0.0.1)
  -p, --port port     broker port (default 1883, or 8883 with TLS)
  -L, --url URL       mqtt://[username[:password]@]host[:port]/topic, or mqtts://
                      (TLS with the system's CA certificates; default port 8883).
                      Taken literally: no percent-decoding, so "a/#" can be written
  -t, --topic filter  a topic filter to subscribe to; may be repeated
  -q, --qos 0|1|2     QoS of the subscriptions (default 0)
  -C count            exit after count messages (retained ones count; -R ones do not).
                      A QoS 2 message counts once its flow is complete (its PUBREL
                      came), and its PUBCOMP goes out before DISCONNECT
  -W seconds          exit after this many seconds (fractions allowed), counted from
                      the start, with status 27 and "Timed out" on standard error
  -v, --verbose       print "topic payload"
  -N                  print no line end after each payload
  -R                  do not print retained (stale) messages
  -i, --id id         client id (default xsmqtt_sub_<process id>)
  -I, --id-prefix p   client id: p followed by the process id
  -c, --disable-clean-session
                      keep the session (clean session off); needs -i
  -k, --keepalive s   keepalive in seconds, 0-65535, 0 for none (default 60)
  -u, --username u    user name
  -P, --pw password   password (needs -u)
  --will-topic t      the will's topic; --will-payload (default empty), --will-qos
                      0-2 (default 0) and --will-retain need it
  --cafile file       TLS, trusting the CA certificates in file (PEM)
  --capath dir        TLS, trusting the PEM certificates of the files in dir
  --tls-use-os-certs  TLS, trusting the system's CA certificates (also the default for
                      TLS without --cafile/--capath: -p 8883, --cert, mqtts://)
  --cert file         client certificate (PEM), with --key file, its private key (PEM);
                      turns TLS on
  --insecure          do not check that the server certificate names the host; the
                      certificate chain is still verified against the CAs
  -d, --debug         log the packets sent and received on standard error, and
                      "Subscribed (mid: n): granted QoS..." when the broker answers
  --quiet             print no error messages (the exit status still tells)
${VERSION_USAGE}
  --engine node|xs    run the client on Node (default) or inside the XS engine (xsnap),
                      as on the device; the command behaves the same either way

Exit status: 0 after -C messages or a signal; 27 -W ran out; 1 a failure (wrong
command line, connection error, TLS failure, every subscription refused); 1-5 the broker
refused the connection (the CONNACK return code: 4 bad user name or password, 5 not
authorised).

examples:
  xsmqtt sub -t 'sensors/#' -v
  xsmqtt sub -h broker.local -t devices/+/status -q 1 -C 1 -W 10
  xsmqtt sub -L mqtts://user:secret@broker.example/a/# -v
  xsmqtt sub --engine xs --cafile ca.crt --cert me.crt --key me.key -t a/b
`;

/** The inbound QoS 2 table: 2 bytes an entry, searched only as far as it is filled. */
const INBOUND_QOS2 = 4096;

async function subscribe(o: Options, io: CommandIo): Promise<number> {
  // payloads go out as bytes when this is the process's own output
  const write: (b: Uint8Array | string) => void =
    io === processIo ? (b) => void process.stdout.write(b) : (b) => io.out(typeof b === "string" ? b : Buffer.from(b).toString("utf8"));
  const eol = o.eol ? "\n" : "";
  let received = 0;
  let stop = false;
  let skipping = false;
  const granted = new Map<string, number>();
  // QoS 2 messages printed whose PUBREL has not come yet, by packet id
  const unreleased = new Set<number>();
  const count = () => {
    received++;
    if (o.count > 0 && received >= o.count) stop = true;
  };

  const onMessage = (m: Inbound) => {
    if (stop) return;
    const first = m.offset === 0;
    if (first) skipping = o.noRetained && m.retain;
    if (skipping) return;
    const empty = first && !m.more && m.payload.length === 0;
    if (first && o.verbose) write(empty ? `${m.topic} (null)${eol}` : `${m.topic} `);
    if (!empty) {
      write(m.payload);
      if (!m.more) write(eol);
    }
    if (m.more) return;
    if (m.qos === 2) unreleased.add(m.packetId);
    else count();
  };

  const filterBytes = o.topics.reduce((n, t) => n + Buffer.byteLength(t) + 3, 0);
  const link = new Link(o, io, {
    lost: "reconnect",
    receiveBufferSize: 16384,
    // QoS 2 messages awaiting PUBREL: a broker may send many at once (mosquitto 20 by
    // default, any number with max_inflight_messages 0), and one past the table is dropped
    inboundQos2: INBOUND_QOS2,
    // one SUBSCRIBE carries them all, and the client's control buffer must hold it
    sendBufferSize: Math.max(512, 2 * filterBytes + 64),
    onMessage,
    onReleased(packetId) {
      if (!stop && unreleased.delete(packetId)) count();
    },
    onConnect(sessionPresent) {
      // no session: no PUBREL will come for what was printed before; it was received once
      if (sessionPresent) return;
      const printed = unreleased.size;
      unreleased.clear();
      for (let i = 0; i < printed && !stop; i++) count();
    },
    onSuback(filter, code) {
      granted.set(filter, code);
      if (code === 0x80) link.say(`Warning: the broker refused the subscription to '${filter}'.`);
      if (granted.size === new Set(o.topics).size && [...granted.values()].every((g) => g === 0x80))
        link.fail(new Failure("All subscription requests were denied."));
    },
  });

  const onSignal = () => {
    if (link.connected) {
      stop = true;
      link.changed();
    } else link.fail(new Failure("")); // as mosquitto_sub: no goodbye before CONNACK
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const timer = o.timeout > 0 ? setTimeout(() => link.fail(new Failure("Timed out", Exit.TimedOut)), o.timeout * 1000) : null;
  try {
    await link.open(async () => {
      for (const filter of o.topics) await link.subscribe(filter, o.qos);
    });
    await link.until(() => stop);
    return 0;
  } finally {
    if (timer) clearTimeout(timer);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await link.close();
  }
}

/** Subscribes as the command line says; resolves to the exit status. */
export async function run(args: string[], io: CommandIo = processIo): Promise<number> {
  return runCommand(args, "sub", io, usage, subscribe);
}
