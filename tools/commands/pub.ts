/**
 * `xsmqtt pub`: mosquitto_pub's command line over the xsmqtt client, on Node or inside
 * XS. Connects, publishes, waits until every message is done (QoS 2 PUBCOMP received,
 * QoS 1 PUBACK, QoS 0 written), sends DISCONNECT and exits 0; any failure exits non-zero
 * with one line on standard error. As mosquitto_pub, -l survives a lost connection: the
 * client reconnects, sends the PUBRELs still owed and the unacknowledged messages again
 * (same packet ids, DUP=1) and the lines keep coming; so does --repeat. A one-shot
 * message gives up (status 7).
 */
import { processIo, type CommandIo } from "./command.js";
import { readOptionFile } from "./mqtt/broker.js";
import { runCommand, VERSION_USAGE, type Options } from "./mqtt/flags.js";
import { Link } from "./mqtt/link.js";

/** None: `-h` is the host, and the parser itself reads `--help` where it is an option. */
export const helpFlags: readonly string[] = [];

/** Printed by `xsmqtt help pub` and `xsmqtt pub --help`. */
export const usage = `usage: xsmqtt pub {[-h host] [-p port] [-u username [-P password]] -t topic | -L URL}
                  {-m message | -f file | -s | -l | -n}
                  [-q qos] [-r] [--repeat count [--repeat-delay seconds]]
                  [-c] [-i id | -I id_prefix] [-k keepalive] [-M max_inflight]
                  [--will-topic topic [--will-payload payload] [--will-qos qos] [--will-retain]]
                  [{--cafile file | --capath dir | --tls-use-os-certs}
                   [--cert file --key file] [--insecure]]
                  [-d] [--quiet] [-V mqttv311|mqttv5] [-x session_expiry]
                  [-D command property value] [--engine node|xs]
       xsmqtt pub --help

Publishes with the xsmqtt client and exits, taking mosquitto_pub's options with the
same meanings. Waits until every message is done (QoS 2: PUBCOMP received; QoS 1:
PUBACK received; QoS 0: written to the connection), then sends DISCONNECT. With -l or
--repeat a lost connection is not the end: the client reconnects every second, sends
the PUBRELs it still owes (in the order their PUBRECs came), then the unacknowledged
messages again (same packet id, DUP set; never one whose PUBREL went out) and goes on;
lines read meanwhile wait in the outbox.

  -h, --host host     broker host name or address (default localhost; dials 127.0.0.1)
  -p, --port port     broker port (default 1883, or 8883 with TLS)
  -L, --url URL       mqtt://[username[:password]@]host[:port]/topic, or mqtts://
                      (TLS with the system's CA certificates; default port 8883).
                      Taken literally: no percent-decoding
  -t, --topic topic   the topic to publish to (exactly one)
  -m, --message text  the payload, as UTF-8
  -f, --file file     the payload: the file's bytes
  -s, --stdin-file    the payload: all of standard input, read before connecting
  -l, --stdin-line    each line of standard input is a message (the line end, "\\n",
                      is removed; "\\r" is kept; empty lines are empty messages; a last
                      line without "\\n" is sent too; a line may be up to 1 MiB)
  -n, --null-message  an empty (zero-length) payload
  -q, --qos 0|1|2     QoS of the messages (default 0); QoS 2: PUBLISH, PUBREC, PUBREL,
                      PUBCOMP, exactly once
  -r, --retain        retain the messages
  --repeat count      publish the -m/-f/-s/-n message count times (default 1), each after
                      the previous one is done
  --repeat-delay s    seconds between repeats (fractions allowed; default 0)
  -i, --id id         client id (default xsmqtt_pub_<process id>)
  -I, --id-prefix p   client id: p followed by the process id
  -c, --disable-clean-session
                      keep the session (clean session off); needs -i
  -k, --keepalive s   keepalive in seconds, 0-65535, 0 for none (default 60)
  -M max_inflight     QoS 1 and 2 messages in flight at once, awaiting PUBACK or
                      PUBCOMP (default 20). At QoS 2 keep it at or below mosquitto's
                      max_inflight_messages (20): past it mosquitto 2.0 drops the
                      messages of an MQTT 3.1.1 client and still completes their flow
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
  -d, --debug         log the packets sent and received on standard error
  --quiet             print no error messages (the exit status still tells)
${VERSION_USAGE}
  --engine node|xs    run the client on Node (default) or inside the XS engine (xsnap),
                      as on the device; the command behaves the same either way

Exit status: 0 all messages done; 1 a failure (wrong command line, connection error,
TLS failure, message refused); 1-5 the broker refused the connection (the CONNACK
return code: 4 bad user name or password, 5 not authorised); 7 the connection was lost
before a one-shot message (-m, -f, -s, -n without --repeat) was done.

examples:
  xsmqtt pub -t sensors/temp -m 21.5
  xsmqtt pub -h broker.local -q 1 -r -t devices/esp32/config -f config.json
  xsmqtt pub -q 2 -t billing/meter -m 1042
  tail -f app.log | xsmqtt pub -t logs/app -l
  xsmqtt pub -L mqtts://user:secret@broker.example:8883/a/b -m hi
  xsmqtt pub --engine xs --cafile ca.crt -h 127.0.0.1 -t a/b -m "from XS"
`;

/** Outbox for -l, whose line sizes are not known in advance: a line must fit in it. */
const LINE_OUTBOX = 1 << 20;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(parts);
}

/** Standard input's lines as bytes without their "\n"; a last line without one too. */
async function* stdinLines(): AsyncGenerator<Buffer> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    const buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10, start)) {
      yield buf.subarray(start, nl);
      start = nl + 1;
    }
    rest = buf.subarray(start);
  }
  if (rest.length > 0) yield rest;
}

async function publish(o: Options, io: CommandIo): Promise<number> {
  const topic = o.topics[0];
  const source = o.source!;
  let payload: Uint8Array | null = null;
  if (source.kind === "message") payload = Buffer.from(source.text, "utf8");
  else if (source.kind === "file") payload = readOptionFile(source.file, "-f");
  else if (source.kind === "null") payload = new Uint8Array(0);
  else if (source.kind === "stdin") payload = await readAll(process.stdin);

  // tokens not yet done, and tokens reported done before publish() returned them
  const pending = new Set<number>();
  const early = new Set<number>();
  let done = 0;
  const link = new Link(o, io, {
    lost: source.kind === "lines" || o.repeat > 1 ? "reconnect" : "fatal",
    outboxBytes: payload ? Math.max(1 << 16, payload.length + Buffer.byteLength(topic) + 64) : LINE_OUTBOX,
    sendBufferSize: 512,
    onDelivered(token) {
      done++;
      if (!pending.delete(token)) early.add(token);
    },
  });
  const send = async (p: Uint8Array) => {
    const token = await link.publish(topic, p, o.qos, o.retain, () => done);
    if (!early.delete(token)) pending.add(token);
  };
  const allDone = () => link.until(() => pending.size === 0);
  try {
    await link.open();
    if (payload) {
      for (let i = 0; i < o.repeat; i++) {
        if (i > 0 && o.repeatDelay > 0) await link.sleep(o.repeatDelay * 1000);
        await send(payload);
        await allDone();
      }
    } else {
      // read while watching the link, so a failure (a refused reconnect) ends the command at once
      const lines = stdinLines();
      const failed = link.failed();
      failed.catch(() => undefined);
      for (;;) {
        const next = await Promise.race([lines.next(), failed]);
        if (next.done) break;
        await send(next.value);
      }
    }
    await allDone();
    return 0;
  } finally {
    if (source.kind === "lines" || source.kind === "stdin") process.stdin.destroy();
    await link.close();
  }
}

/** Publishes as the command line says; resolves to the exit status. */
export async function run(args: string[], io: CommandIo = processIo): Promise<number> {
  return runCommand(args, "pub", io, usage, publish);
}
