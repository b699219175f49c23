/**
 * `xsmqtt pub` and `xsmqtt sub`, run as users run them: `node bin/xsmqtt.js ...` in child
 * processes against aedes and mosquitto on free loopback ports, judged by their standard
 * output, standard error and exit status as mosquitto_pub and mosquitto_sub would be.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, mosquittoPath, startAedes, startMosquitto, type AedesBroker, type Mosquitto } from "../tools/runtime/brokers.js";
import { requireMosquitto } from "./needs.js";
import { makeCerts, type TestCerts } from "./certs.js";
import { ENGINES } from "./engines.js";
import { FakeBroker } from "./fake-broker.js";
import { FaultProxy } from "./fault-proxy.js";
import mqtt from "mqtt";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** Standard output as bytes. */
  out: Buffer;
  stderr: string;
}

const running = new Set<ChildProcess>();

/** One `xsmqtt` process. `input` null leaves its standard input open. */
class Cli {
  readonly child: ChildProcess;
  readonly done: Promise<Result>;
  private parts: Buffer[] = [];
  stderr = "";

  constructor(args: string[], input: string | Buffer | null = "") {
    const child = (this.child = spawn(process.execPath, ["bin/xsmqtt.js", ...args], { cwd: root, stdio: ["pipe", "pipe", "pipe"] }));
    running.add(child);
    child.stdout!.on("data", (d: Buffer) => this.parts.push(d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    this.done = new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (status, signal) => {
        running.delete(child);
        const out = Buffer.concat(this.parts);
        resolve({ status, signal, stdout: out.toString("utf8"), out, stderr: this.stderr });
      });
    });
    child.stdin!.on("error", () => undefined); // EPIPE when the command stops reading
    if (input !== null) child.stdin!.end(input);
  }

  /** Waits until standard error matches `pattern`. */
  async waitErr(pattern: RegExp, ms = 8000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pattern.test(this.stderr)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        const r = await this.done;
        assert.fail(`xsmqtt exited (${r.status ?? r.signal}) before printing ${pattern}: ${r.stderr}`);
      }
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${pattern} on standard error: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** Runs `xsmqtt args...` to the end. */
function xsmqtt(args: string[], input: string | Buffer = ""): Promise<Result> {
  return new Cli(args, input).done;
}

/** Starts `xsmqtt sub args... -d` and resolves once the broker has answered its SUBSCRIBE. */
async function subscriber(args: string[]): Promise<Cli> {
  const c = new Cli(["sub", ...args, "-d"]);
  await c.waitErr(/^Subscribed \(mid: \d+\)/m);
  return c;
}

/** A pub that must succeed. */
async function pub(args: string[], input: string | Buffer = ""): Promise<Result> {
  const r = await xsmqtt(["pub", ...args], input);
  assert.equal(r.status, 0, `pub ${args.join(" ")} failed: ${r.stderr}`);
  assert.equal(r.stdout, "");
  return r;
}

/** Waits for a command and checks it exited 0. */
async function ok(c: Cli): Promise<Result> {
  const r = await c.done;
  assert.equal(r.status, 0, `exit ${r.status ?? r.signal}: ${r.stderr}`);
  return r;
}

/**
 * Lets mosquitto read `dir`'s files: started as root, it drops to the "mosquitto" user,
 * which cannot read the private temporary directories the tests make.
 */
function shareWithBroker(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
}

let serial = 0;
/** A topic no other test uses. */
const fresh = (name: string) => `xsmqtt-cli/${process.pid}/${++serial}/${name}`;

afterEach(() => {
  for (const c of running) c.kill("SIGKILL");
});

describe("xsmqtt pub/sub: command line", () => {
  it("pub without topic or message prints the usage and exits 1, as mosquitto_pub", async () => {
    const r = await xsmqtt(["pub", "-m", "x"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^Error: Both topic and message must be supplied\.\n\nusage: xsmqtt pub/);
    assert.equal(r.stdout, "");
  });

  it("refuses a bad QoS, -c without -i, sub without -t, unknown options", async () => {
    const cases: [string[], RegExp][] = [
      [["pub", "-t", "a", "-m", "x", "-q", "two"], /^Error: Invalid QoS given: two\n/],
      [["sub", "-t", "a", "-q", "3"], /^Error: Invalid QoS given: 3\n/],
      [["pub", "-t", "a", "-m", "x", "-c"], /^Error: You must provide a client id if you are using the -c option\./],
      [["sub", "-v"], /^Error: You must specify a topic to subscribe to\./],
      [["pub", "-t", "a/+", "-m", "x"], /^Error: Invalid publish topic 'a\/\+'/],
      [["sub", "-t", "a/#/b"], /^Error: Invalid subscription topic 'a\/#\/b'/],
      [["pub", "-t", "a", "-m", "x", "-f", "file"], /^Error: Only one type of message can be sent at once\./],
      [["sub", "-t", "a", "-C", "0"], /^Error: Invalid message count "0"\./],
      [["pub", "-t", "a", "-m", "x", "-v"], /^Error: Unknown option '-v' \(it is an option of "xsmqtt sub"\)\./],
      [["sub", "-t", "a", "--bogus"], /^Error: Unknown option '--bogus'\./],
      [["pub", "-t", "a", "-m", "x", "-h"], /^Error: -h argument given but no host specified\./],
      [["pub", "-t", "a", "-m", "x", "--will-payload", "p"], /^Error: Will payload, QoS or retain given, but no will topic given\./],
      [["sub", "-t", "a", "--cert", "c.pem"], /^Error: Both certfile and keyfile must be provided/],
      [["sub", "-L", "http://h/a"], /^Error: unsupported URL scheme/],
      [["sub", "-L", "mqtt://h"], /^Error: Invalid URL for -L argument specified - topic missing\./],
    ];
    const results = await Promise.all(cases.map(([args]) => xsmqtt(args)));
    results.forEach((r, i) => {
      const [args, pattern] = cases[i];
      assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, pattern, args.join(" "));
      assert.match(r.stderr, /\n\nusage: xsmqtt (pub|sub) /, "the usage follows the error");
      assert.equal(r.stdout, "");
    });
  });

  it("--help prints the usage on standard output and exits 0; -h is the host", async () => {
    const [p, s] = await Promise.all([xsmqtt(["pub", "--help"]), xsmqtt(["sub", "--help"])]);
    assert.equal(p.status, 0);
    assert.match(p.stdout, /^usage: xsmqtt pub /);
    assert.match(p.stdout, /-h, --host host/);
    assert.equal(s.status, 0);
    assert.match(s.stdout, /^usage: xsmqtt sub /);
    const overview = await xsmqtt(["help"]);
    assert.match(overview.stdout, /\n {2}pub +publish messages; mosquitto_pub's options/);
    assert.match(overview.stdout, /\n {2}sub +print subscribed messages; mosquitto_sub's options/);
  });

  it("a broker that is not there: 'Connection error: ...' and exit 1", async () => {
    const port = await freePort();
    const [p, s] = await Promise.all([
      xsmqtt(["pub", "-p", String(port), "-t", "a", "-m", "x"]),
      xsmqtt(["sub", "-h", "127.0.0.1", "-p", String(port), "-t", "a"]),
    ]);
    for (const r of [p, s]) {
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^Connection error: .*ECONNREFUSED.*\n$/);
      assert.equal(r.stdout, "");
    }
  });

  it("an unreadable -f or --cafile file: one line naming it, exit 1", async () => {
    const [f, ca] = await Promise.all([
      xsmqtt(["pub", "-t", "a", "-f", "/nonexistent/payload"]),
      xsmqtt(["sub", "-t", "a", "--cafile", "/nonexistent/ca.crt"]),
    ]);
    assert.equal(f.status, 1);
    assert.match(f.stderr, /^Error: cannot read -f '\/nonexistent\/payload': .*ENOENT.*\n$/);
    assert.equal(ca.status, 1);
    assert.match(ca.stderr, /^Error: cannot read --cafile '\/nonexistent\/ca.crt': .*ENOENT.*\n$/);
  });
});

describe("xsmqtt pub/sub against aedes", () => {
  let broker: AedesBroker;
  let p: string;
  const published: { topic: string; payload: string }[] = [];

  before(async () => {
    broker = await startAedes();
    p = String(broker.port);
    broker.aedes.on("publish", (packet: { topic: string; payload: Buffer }) => published.push({ topic: packet.topic, payload: String(packet.payload) }));
  });
  after(() => broker?.close());

  it("pub → sub -C 1 -v: 'topic payload', both exit 0", async () => {
    const t = fresh("round");
    const sub = await subscriber(["-p", p, "-t", t, "-C", "1", "-v"]);
    await pub(["-p", p, "-t", t, "-m", "hello world"]);
    const r = await ok(sub);
    assert.equal(r.stdout, `${t} hello world\n`);
    assert.doesNotMatch(r.stderr, /Error|Warning/);
  });

  it("-l: one message per line; an empty line is an empty message ('(null)' with -v); the last line needs no line end", async () => {
    const t = fresh("lines");
    const sub = await subscriber(["-p", p, "-t", t, "-C", "4", "-v"]);
    await pub(["-p", p, "-t", t, "-l", "-q", "1"], "one\ntwo words\n\nlast");
    const r = await ok(sub);
    assert.equal(r.stdout, `${t} one\n${t} two words\n${t} (null)\n${t} last\n`);
  });

  it("-f, -s and -n payloads; without -v an empty payload prints nothing, as mosquitto_sub", async () => {
    const t = fresh("sources");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-cli-"));
    const file = path.join(dir, "payload.txt");
    fs.writeFileSync(file, "from a file");
    try {
      const sub = await subscriber(["-p", p, "-t", t, "-C", "4"]);
      await pub(["-p", p, "-t", t, "-f", file]);
      await pub(["-p", p, "-t", t, "-s"], "all of\nstdin");
      await pub(["-p", p, "-t", t, "-n"]);
      await pub(["-p", p, "-t", t, "-m", "end"]);
      const r = await ok(sub);
      assert.equal(r.stdout, "from a file\nall of\nstdin\nend\n");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("binary and large payloads arrive byte for byte (-N, fragments past the receive buffer)", async () => {
    const t = fresh("binary");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-cli-"));
    const file = path.join(dir, "payload.bin");
    const bytes = Buffer.alloc(100_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
    fs.writeFileSync(file, bytes);
    try {
      const sub = await subscriber(["-p", p, "-t", t, "-C", "1", "-N"]);
      await pub(["-p", p, "-t", t, "-f", file, "-q", "1"]);
      const r = await ok(sub);
      assert.equal(r.out.length, bytes.length);
      assert.ok(r.out.equals(bytes), "payload bytes differ");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--repeat N --repeat-delay S publishes N times", async () => {
    const t = fresh("repeat");
    const sub = await subscriber(["-p", p, "-t", t, "-C", "3"]);
    const started = Date.now();
    await pub(["-p", p, "-t", t, "-m", "again", "--repeat", "3", "--repeat-delay", "0.1"]);
    assert.ok(Date.now() - started >= 200, "two delays of 0.1 s");
    assert.equal((await ok(sub)).stdout, "again\nagain\nagain\n");
  });

  it("-r: a new subscriber gets the retained message; -R hides it, and -W then times out with 27", async () => {
    const t = fresh("retained");
    await pub(["-p", p, "-t", t, "-m", "kept", "-r"]);
    const got = await xsmqtt(["sub", "-p", p, "-t", t, "-C", "1", "-v", "-W", "5"]);
    assert.equal(got.status, 0, got.stderr);
    assert.equal(got.stdout, `${t} kept\n`);
    const hidden = await xsmqtt(["sub", "-p", p, "-t", t, "-R", "-W", "0.5"]);
    assert.equal(hidden.status, 27);
    assert.equal(hidden.stderr, "Timed out\n");
    assert.equal(hidden.stdout, "");
    await pub(["-p", p, "-t", t, "-n", "-r"]); // clears it
  });

  it("refused subscriptions: a warning for each; all refused ends sub with status 1", async () => {
    const aedes = broker.aedes;
    const allow = aedes.authorizeSubscribe;
    aedes.authorizeSubscribe = (client: unknown, sub: { topic: string }, done: (e: Error | null, s?: unknown) => void) =>
      sub.topic.endsWith("/denied") ? done(null, null) : allow.call(aedes, client, sub, done); // null: SUBACK 0x80
    try {
      const denied = fresh("denied");
      const all = await xsmqtt(["sub", "-p", p, "-t", denied, "-W", "5"]);
      assert.equal(all.status, 1);
      assert.equal(all.stderr, `Warning: the broker refused the subscription to '${denied}'.\nAll subscription requests were denied.\n`);
      const t = fresh("allowed");
      const some = await subscriber(["-p", p, "-t", fresh("denied"), "-t", t, "-C", "1"]);
      await pub(["-p", p, "-t", t, "-m", "still here"]);
      const r = await ok(some);
      assert.equal(r.stdout, "still here\n");
      assert.match(r.stderr, /^Subscribed \(mid: 1\): 128, 0\nWarning: the broker refused the subscription to '[^']+\/denied'\.\n/m);
    } finally {
      aedes.authorizeSubscribe = allow;
    }
  });

  it("-L mqtt://host:port/topic, for sub (with a wildcard) and pub", async () => {
    const t = fresh("url");
    const sub = await subscriber(["-L", `mqtt://127.0.0.1:${p}/${t}/#`, "-C", "1", "-v"]);
    await pub(["-L", `mqtt://127.0.0.1:${p}/${t}/x`, "-m", "by url"]);
    assert.equal((await ok(sub)).stdout, `${t}/x by url\n`);
  });

  it("a pub whose connection dies without DISCONNECT: the broker sends its will to subscribers", async () => {
    const will = fresh("will");
    const sub = await subscriber(["-p", p, "-t", will, "-C", "1", "-v"]);
    const dying = new Cli(["pub", "-p", p, "-t", fresh("unused"), "-l", "-d", "--will-topic", will, "--will-payload", "gone", "--will-qos", "1"], null);
    await dying.waitErr(/received CONNACK \(0\)/);
    dying.child.kill("SIGKILL");
    assert.equal((await ok(sub)).stdout, `${will} gone\n`);
  });

  it("SIGINT: sub sends DISCONNECT (its will is not published) and exits 0", async () => {
    const will = fresh("no-will");
    const sub = await subscriber(["-p", p, "-t", fresh("quiet"), "--will-topic", will, "--will-payload", "unexpected"]);
    sub.child.kill("SIGINT");
    const r = await ok(sub);
    assert.match(r.stderr, /sending DISCONNECT/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(
      published.filter((m) => m.topic === will),
      [],
    );
  });
});

describe("xsmqtt pub/sub against mosquitto", () => {
  let plain: Mosquitto;
  let secured: Mosquitto;
  let certs: TestCerts;
  let wrongName: TestCerts;
  const tlsPorts = { server: 0, clientCert: 0, wrongName: 0 };
  let dir: string;

  before(async function () {
    requireMosquitto(this);
    this.timeout(30000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-cli-"));
    const passwords = path.join(dir, "passwords");
    const made = spawnSync("mosquitto_passwd", ["-b", "-c", passwords, "device", "s3cret:pw"], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`mosquitto_passwd failed: ${made.stderr}`);
    shareWithBroker(dir);
    plain = await startMosquitto({ config: ["allow_anonymous false", `password_file ${passwords}`] });
    certs = makeCerts();
    wrongName = makeCerts(["DNS:broker.invalid"]); // makeCerts leaves them readable to mosquitto's user
    tlsPorts.server = await freePort();
    tlsPorts.clientCert = await freePort();
    tlsPorts.wrongName = await freePort();
    const tlsListener = (port: number, c: TestCerts, extra: string[] = []) => [
      `listener ${port} 127.0.0.1`,
      `cafile ${c.caCert}`,
      `certfile ${c.serverCert}`,
      `keyfile ${c.serverKey}`,
      ...extra,
    ];
    secured = await startMosquitto({
      config: [
        ...tlsListener(tlsPorts.server, certs),
        ...tlsListener(tlsPorts.clientCert, certs, ["require_certificate true"]),
        ...tlsListener(tlsPorts.wrongName, wrongName),
      ],
    });
  });

  after(async () => {
    await plain?.close();
    await secured?.close();
    certs?.remove();
    wrongName?.remove();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const auth = ["-u", "device", "-P", "s3cret:pw"];

  it("-u/-P: accepted with the right password; QoS 1 both ways (PUBACK awaited)", async () => {
    const t = fresh("qos1");
    const p = String(plain.port);
    const sub = await subscriber(["-p", p, ...auth, "-t", t, "-q", "1", "-C", "1", "-v"]);
    const r = await pub(["-p", p, ...auth, "-t", t, "-m", "acked", "-q", "1", "-d"]);
    assert.match(r.stderr, /sending PUBLISH \(d0, q1, r0, m1, '[^']+', \.\.\. \(5 bytes\)\)\n.*received PUBACK \(Mid: 1, RC:0\)\n.*sending DISCONNECT/s);
    const s = await ok(sub);
    assert.equal(s.stdout, `${t} acked\n`);
    assert.match(s.stderr, /Subscribed \(mid: 1\): 1\n/);
    assert.match(s.stderr, /received PUBLISH \(d0, q1, r0, m\d+, /);
  });

  it("a wrong password: the CONNACK refusal named on one line, its code as the exit status", async () => {
    const [p, s] = await Promise.all([
      xsmqtt(["pub", "-p", String(plain.port), "-u", "device", "-P", "wrong", "-t", "a", "-m", "x"]),
      xsmqtt(["sub", "-p", String(plain.port), "-t", "a"]),
    ]);
    for (const r of [p, s]) {
      const m = /^Connection error: Connection Refused: (bad user name or password|not authorised)\.\n$/.exec(r.stderr);
      assert.ok(m, r.stderr);
      assert.equal(r.status, m[1] === "not authorised" ? 5 : 4);
      assert.equal(r.stdout, "");
    }
  });

  it("-L with user and password in the URL", async () => {
    const t = fresh("url-auth");
    const sub = await subscriber(["-L", `mqtt://device:s3cret:pw@127.0.0.1:${plain.port}/${t}`, "-C", "1"]);
    await pub(["-L", `mqtt://device:s3cret:pw@127.0.0.1:${plain.port}/${t}`, "-m", "url creds"]);
    assert.equal((await ok(sub)).stdout, "url creds\n");
  });

  it("TLS with --cafile, by address and by the name in the certificate", async () => {
    const t = fresh("tls");
    const tls = ["--cafile", certs.caCert, "-p", String(tlsPorts.server)];
    const sub = await subscriber([...tls, "-h", "127.0.0.1", "-t", t, "-C", "2", "-v"]);
    await pub([...tls, "-t", t, "-m", "default host", "-q", "1"]);
    await pub([...tls, "-h", "localhost", "-t", t, "-m", "by name"]);
    assert.equal((await ok(sub)).stdout, `${t} default host\n${t} by name\n`);
  });

  it("TLS with a CA that did not sign the server's certificate fails, also with --insecure", async () => {
    for (const extra of [[], ["--insecure"]]) {
      const r = await xsmqtt(["pub", "--cafile", certs.otherCaCert, "-h", "127.0.0.1", "-p", String(tlsPorts.server), "-t", "a", "-m", "x", ...extra]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^Connection error: .*(certificate|CERT).*\n$/);
    }
  });

  it("--insecure skips only the host name check: a certificate for another name passes with it", async () => {
    const t = fresh("insecure");
    const args = ["--cafile", wrongName.caCert, "-h", "127.0.0.1", "-p", String(tlsPorts.wrongName), "-t", t];
    const strict = await xsmqtt(["pub", ...args, "-m", "x"]);
    assert.equal(strict.status, 1);
    assert.match(strict.stderr, /^Connection error: .*ERR_TLS_CERT_ALTNAME_INVALID/);
    const sub = await subscriber([...args, "--insecure", "-C", "1"]);
    await pub([...args, "--insecure", "-m", "name not checked"]);
    assert.equal((await ok(sub)).stdout, "name not checked\n");
  });

  it("a listener that requires client certificates: --cert/--key pass, none fails", async () => {
    const t = fresh("client-cert");
    const base = ["--cafile", certs.caCert, "-p", String(tlsPorts.clientCert), "-t", t];
    const sub = await subscriber([...base, "--cert", certs.clientCert, "--key", certs.clientKey, "-C", "1"]);
    await pub([...base, "--cert", certs.clientCert, "--key", certs.clientKey, "-m", "mutual"]);
    assert.equal((await ok(sub)).stdout, "mutual\n");
    const without = await xsmqtt(["pub", ...base, "-m", "x"]);
    assert.notEqual(without.status, 0);
    assert.match(without.stderr, /^(Connection error|Error): .+\n$/);
  });

  it("interoperates with mosquitto_sub and mosquitto_pub", async function () {
    if (!fs.existsSync("/usr/bin/mosquitto_sub") || !fs.existsSync("/usr/bin/mosquitto_pub")) {
      if (process.env.CI) throw new Error("mosquitto_sub/mosquitto_pub are not installed (apt-get install mosquitto-clients); CI must run this test");
      this.skip();
    }
    const t = fresh("interop");
    const p = String(plain.port);
    const theirs = spawn("/usr/bin/mosquitto_sub", ["-p", p, ...auth, "-t", t, "-C", "1", "-v", "-d"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    theirs.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    const closed = new Promise<number | null>((r) => theirs.on("close", r));
    for (let i = 0; i < 100 && !/Subscribed/.test(out); i++) await new Promise((r) => setTimeout(r, 20));
    await pub(["-p", p, ...auth, "-t", t, "-m", "to mosquitto_sub", "-q", "1"]);
    assert.equal(await closed, 0);
    assert.match(out, new RegExp(`^${t} to mosquitto_sub$`, "m"));
    const ours = await subscriber(["-p", p, ...auth, "-t", t, "-C", "1", "-v"]);
    const sent = spawnSync("/usr/bin/mosquitto_pub", ["-p", p, ...auth, "-t", t, "-m", "from mosquitto_pub"]);
    assert.equal(sent.status, 0);
    assert.equal((await ok(ours)).stdout, `${t} from mosquitto_pub\n`);
  });
});

describe("xsmqtt pub/sub, MQTT 5.0 (-V 5) against mosquitto", () => {
  let open: Mosquitto;
  let closed: Mosquitto;
  before(async function () {
    requireMosquitto(this);
    open = await startMosquitto();
    closed = await startMosquitto({ config: ["allow_anonymous false"] });
  });
  after(async () => {
    await open?.close();
    await closed?.close();
  });
  const haveClients = () => fs.existsSync("/usr/bin/mosquitto_sub") && fs.existsSync("/usr/bin/mosquitto_pub");

  for (const engine of ENGINES) {
    it(`pub -D publish properties reach mosquitto_sub -V 5 -F, and sub -d prints what mosquitto_pub -D sent (${engine})`, async function () {
      if (!haveClients()) {
        if (process.env.CI) throw new Error("mosquitto_sub/mosquitto_pub are not installed (apt-get install mosquitto-clients); CI must run this test");
        this.skip();
      }
      const t = fresh("v5-props");
      const p = String(open.port);
      const theirs = spawn("/usr/bin/mosquitto_sub", ["-V", "5", "-p", p, "-t", t, "-C", "1", "-F", "%t|%p|%C|%R|%P|%D", "-d"], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      theirs.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
      const done = new Promise<number | null>((r) => theirs.on("close", r));
      for (let i = 0; i < 100 && !/Subscribed/.test(out); i++) await new Promise((r) => setTimeout(r, 20));
      const props = ["-D", "publish", "content-type", "text/plain", "-D", "publish", "response-topic", "r/t", "-D", "publish", "user-property", "k", "v1", "-D", "publish", "user-property", "k", "v2", "-D", "publish", "correlation-data", "abc"];
      await pub(["--engine", engine, "-V", "mqttv5", "-p", p, "-t", t, "-m", "hello", "-q", "1", ...props]);
      assert.equal(await done, 0);
      assert.match(out, new RegExp(`^${t}\\|hello\\|text/plain\\|r/t\\|k:v1 k:v2\\|abc$`, "m"));

      const ours = await subscriber(["--engine", engine, "-V", "5", "-p", p, "-t", t, "-C", "1", "-v"]);
      const sent = spawnSync("/usr/bin/mosquitto_pub", ["-V", "5", "-p", p, "-t", t, "-m", "back", "-D", "publish", "user-property", "a", "b", "-D", "publish", "content-type", "ct"]);
      assert.equal(sent.status, 0);
      const r = await ok(ours);
      assert.equal(r.stdout, `${t} back\n`);
      assert.match(r.stderr, /received PUBLISH properties \{"contentType":"ct","userProperties":\{"a":"b"\}\}/);
    });

    it(`a refusal names its reason code and exits with it, as mosquitto_pub -V 5 (${engine})`, async () => {
      const r = await xsmqtt(["pub", "--engine", engine, "-V", "5", "-p", String(closed.port), "-t", "a", "-m", "x"]);
      assert.equal(r.stderr, "Connection error: Not authorized\n");
      assert.equal(r.status, 135);
      if (haveClients()) {
        const m = spawnSync("/usr/bin/mosquitto_pub", ["-V", "5", "-p", String(closed.port), "-t", "a", "-m", "x"], { encoding: "utf8" });
        assert.equal(m.status, 135, "mosquitto_pub's status for the same refusal");
      }
    });
  }

  it("-x and -c keep a session across runs: sub -c -x 60 misses nothing sent while it was away", async () => {
    const t = fresh("v5-session");
    const p = String(open.port);
    const id = `xsmqtt-v5-${process.pid}`;
    const first = await subscriber(["-V", "5", "-p", p, "-c", "-i", id, "-x", "60", "-q", "1", "-t", t, "-C", "1"]);
    await pub(["-V", "5", "-p", p, "-t", t, "-q", "1", "-m", "one"]);
    assert.equal((await ok(first)).stdout, "one\n");
    await pub(["-V", "5", "-p", p, "-t", t, "-q", "1", "-m", "while away"]);
    const again = await ok(await new Cli(["sub", "-V", "5", "-p", p, "-c", "-i", id, "-x", "60", "-q", "1", "-t", t, "-C", "1"]));
    assert.equal(again.stdout, "while away\n");
  });

  it("-D and -V are read as mosquitto reads them, in its words", async () => {
    for (const [args, err] of [
      [["-D", "bogus", "content-type", "t"], "Error: Invalid command given in --property argument."],
      [["-D", "publish", "bogus", "1"], "Error: Invalid property name given in --property argument."],
      [["-D", "connect", "content-type", "t"], "Error: content-type property not allowed for connect in --property argument."],
      [["-D", "publish", "user-property", "k"], "Error: --property argument given but not enough arguments specified."],
      [["-x", "abc"], "Error: session-expiry-interval not a number."],
      [["-D", "publish", "message-expiry-interval", "abc"], "Error: Invalid message-expiry-interval value 'abc' in --property argument."],
      [["-D", "publish", "topic-alias", "1"], 'Error: topic-alias for publish is not supported by xsmqtt (see "xsmqtt help pub").'],
      [["-V", "31"], "Error: protocol version '31' is not supported; xsmqtt speaks MQTT 3.1.1 (mqttv311, 311) and 5.0 (mqttv5, 5), not 3.1."],
    ] as [string[], string][]) {
      const r = await xsmqtt(["pub", "-V", "5", "-t", "a", "-m", "x", ...args]);
      assert.equal(r.status, 1, args.join(" "));
      assert.equal(r.stderr.split("\n")[0], err);
    }
  });
});

describe("xsmqtt pub/sub --engine xs (the client inside XS)", () => {
  let broker: AedesBroker;
  let certs: TestCerts | null = null;
  let tlsBroker: Mosquitto | null = null;
  let tlsPort = 0;

  before(async function () {
    if (!ENGINES.includes("xs")) this.skip();
    this.timeout(30000);
    broker = await startAedes();
    if (mosquittoPath()) {
      certs = makeCerts();
      tlsPort = await freePort();
      tlsBroker = await startMosquitto({ config: [`listener ${tlsPort} 127.0.0.1`, `cafile ${certs.caCert}`, `certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`] });
    }
  });
  after(async () => {
    await broker?.close();
    await tlsBroker?.close();
    certs?.remove();
  });

  it("pub and sub round trip with the same output as on Node", async () => {
    const t = fresh("xs");
    const p = String(broker.port);
    const sub = await subscriber(["--engine", "xs", "-p", p, "-t", `${t}/#`, "-C", "3", "-v"]);
    await pub(["--engine", "xs", "-p", p, "-t", `${t}/a`, "-m", "from XS", "-q", "1"]);
    await pub(["--engine", "xs", "-p", p, "-t", `${t}/b`, "-l"], "line 1\n\n");
    const r = await ok(sub);
    assert.equal(r.stdout, `${t}/a from XS\n${t}/b line 1\n${t}/b (null)\n`);
  });

  it("-d logs the same packets on both engines", async () => {
    const t = fresh("xs-debug");
    const p = String(broker.port);
    const args = ["pub", "-p", p, "-t", t, "-m", "same", "-q", "1", "-d", "-i", "xsmqtt-debug"];
    // one after the other: a broker drops the older of two connections with one client id
    const node = await pub(["--engine", "node", ...args.slice(1)]);
    const xs = await pub(["--engine", "xs", ...args.slice(1)]);
    assert.equal(xs.stderr, node.stderr);
    assert.equal(
      node.stderr,
      [
        `Client xsmqtt-debug connecting to 127.0.0.1:${p}`,
        "Client xsmqtt-debug sending CONNECT",
        "Client xsmqtt-debug received CONNACK (0)",
        `Client xsmqtt-debug sending PUBLISH (d0, q1, r0, m1, '${t}', ... (4 bytes))`,
        "Client xsmqtt-debug received PUBACK (Mid: 1, RC:0)",
        "Client xsmqtt-debug sending DISCONNECT",
        "",
      ].join("\n"),
    );
  });

  it("TLS with --cafile, and refusal of an unknown CA, as on Node", async function () {
    if (!tlsBroker || !certs) this.skip();
    const t = fresh("xs-tls");
    const tls = ["--engine", "xs", "-p", String(tlsPort), "-t", t];
    const sub = await subscriber([...tls, "--cafile", certs.caCert, "-C", "1"]);
    await pub([...tls, "--cafile", certs.caCert, "-m", "sealed"]);
    assert.equal((await ok(sub)).stdout, "sealed\n");
    const bad = await xsmqtt(["pub", ...tls, "--cafile", certs.otherCaCert, "-m", "x"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^Connection error: .*(certificate|CERT).*\n$/);
  });

  it("256 KB out and back (pub -f, sub -N, both in XS): byte-identical, in under 2 s", async () => {
    // payloads cross into and out of XS as bytes: a hex string decoded by index there took 15 s for 64 KB
    const t = fresh("xs-large");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-cli-"));
    const file = path.join(dir, "payload.bin");
    const bytes = Buffer.alloc(256 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + (i >> 9)) & 0xff;
    fs.writeFileSync(file, bytes);
    try {
      const p = String(broker.port);
      const sub = await subscriber(["--engine", "xs", "-p", p, "-t", t, "-C", "1", "-N"]);
      const started = Date.now();
      await pub(["--engine", "xs", "-p", p, "-t", t, "-f", file, "-q", "1"]);
      const r = await ok(sub);
      const took = Date.now() - started;
      assert.equal(r.out.length, bytes.length);
      assert.ok(r.out.equals(bytes), "payload bytes differ");
      assert.ok(took < 2000, `pub and sub took ${took} ms`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("-W timeout exits 27 and a refused connection exits 1 on XS too", async () => {
    const port = await freePort();
    const [timedOut, refused] = await Promise.all([
      xsmqtt(["sub", "--engine", "xs", "-p", String(broker.port), "-t", fresh("xs-quiet"), "-W", "0.5"]),
      xsmqtt(["pub", "--engine", "xs", "-p", String(port), "-t", "a", "-m", "x"]),
    ]);
    assert.equal(timedOut.status, 27);
    assert.equal(timedOut.stderr, "Timed out\n");
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^Connection error: .*ECONNREFUSED.*\n$/);
  });
});

for (const engine of ENGINES) {
  describe(`xsmqtt pub under faults, as mosquitto_pub (${engine})`, () => {
    const e = ["--engine", engine];

    it("-l -q 1: 1,000 lines through a proxy that cuts the connection every 0.3-0.9 s all arrive", async function () {
      this.timeout(90000);
      this.retries(0); // a run that loses a line must fail, not be tried again
      const broker = await startAedes();
      const proxy = await FaultProxy.start(broker.port);
      const t = fresh(`cuts-${engine}`);
      // an independent subscriber (MQTT.js) straight on the broker, at QoS 1
      const watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0 });
      const got = new Set<string>();
      watcher.on("message", (_topic, payload) => got.add(payload.toString()));
      await watcher.subscribeAsync(t, { qos: 1 });
      let cutter: NodeJS.Timeout | null = null;
      let cuts = 0;
      try {
        const c = new Cli(["pub", ...e, "-p", String(proxy.port), "-t", t, "-q", "1", "-l", "-d"], null);
        await c.waitErr(/received CONNACK \(0\)/);
        const cut = () => {
          cutter = setTimeout(() => {
            proxy.cut(cuts % 2 ? "fin" : "rst");
            cuts++;
            cut();
          }, 300 + Math.random() * 600);
        };
        cut();
        // 1,000 lines over about 5 s, as a log being piped in (-d: the CONNACK before the first cut)
        const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}`);
        for (let i = 0; i < lines.length; i += 4) {
          c.child.stdin!.write(lines.slice(i, i + 4).join("\n") + "\n");
          await new Promise((r) => setTimeout(r, 20));
        }
        const cutsWhileReading = cuts;
        c.child.stdin!.end();
        const r = await c.done;
        clearTimeout(cutter!);
        assert.equal(r.status, 0, r.stderr.slice(-2000));
        assert.ok(cutsWhileReading >= 4, `only ${cutsWhileReading} cuts while the lines came`);
        assert.ok(proxy.accepted > 2, `${proxy.accepted} connections: it never reconnected`);
        const deadline = Date.now() + 5000;
        while (got.size < lines.length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
        const missing = lines.filter((l) => !got.has(l));
        if (process.env.XSMQTT_VERBOSE) console.log(`      ${engine}: ${got.size} of ${lines.length} lines received through ${cuts} cuts, ${proxy.accepted} connections`);
        assert.deepEqual(missing, [], `${missing.length} of 1,000 lines lost through ${cuts} cuts`);
      } finally {
        if (cutter) clearTimeout(cutter);
        await watcher.endAsync();
        await proxy.close();
        await broker.close();
      }
    });

    /** A scripted broker that drops the first connection when the first PUBLISH arrives, without PUBACK. */
    async function dropsFirstPublish(): Promise<FakeBroker> {
      const b = await FakeBroker.start();
      b.ackPublishes = false;
      b.onPacket = (conn, p) => {
        if (p.cmd !== "publish") return;
        if (conn.id === 1) conn.socket.destroy();
        else conn.send({ cmd: "puback", messageId: p.messageId });
      };
      return b;
    }

    for (const [mode, args, input] of [
      ["-l", ["-l"], "first\nsecond\n"],
      ["--repeat", ["-m", "first", "--repeat", "2"], ""],
    ] as const) {
      it(`${mode}: a connection dropped before the PUBACK is resumed; the message comes back with its packet id and DUP=1`, async function () {
        this.timeout(20000);
        const b = await dropsFirstPublish();
        try {
          const r = await xsmqtt(["pub", ...e, "-p", String(b.port), "-t", "resend", "-q", "1", ...args], input);
          assert.equal(r.status, 0, r.stderr);
          const pubs = b.of("publish").map((x) => ({ conn: x.conn, id: x.packet.messageId, dup: x.packet.dup, payload: String(x.packet.payload) }));
          const id = pubs[0].id;
          assert.deepEqual(pubs[0], { conn: 1, id, dup: false, payload: "first" });
          const again = pubs.filter((x) => x.conn === 2);
          assert.deepEqual(again[0], { conn: 2, id, dup: true, payload: "first" }, JSON.stringify(pubs));
          if (mode === "-l") assert.ok(again.some((x) => x.payload === "second"), `the second line went out after the reconnect: ${JSON.stringify(pubs)}`);
          else {
            // the second repeat starts once the first is acknowledged: a new message, a new id
            assert.deepEqual(again.slice(1).map((x) => [x.payload, x.dup]), [["first", false]]);
            assert.notEqual(again[1].id, id);
          }
          assert.equal(b.conns.length, 2);
        } finally {
          await b.close();
        }
      });
    }

    it("-m: a lost connection ends the command with 'Error: The connection was lost.' and status 7, as mosquitto_pub", async function () {
      this.timeout(20000);
      const b = await FakeBroker.start();
      b.ackPublishes = false;
      b.onPacket = (conn, p) => p.cmd === "publish" && conn.socket.destroy();
      try {
        const r = await xsmqtt(["pub", ...e, "-p", String(b.port), "-t", "once", "-q", "1", "-m", "x"]);
        assert.equal(r.stderr, "Error: The connection was lost.\n");
        assert.equal(r.status, 7);
        assert.equal(b.conns.length, 1, "no reconnect");
        if (fs.existsSync("/usr/bin/mosquitto_pub")) {
          // not spawnSync: the scripted broker answers from this process's event loop
          const theirs = spawn("/usr/bin/mosquitto_pub", ["-p", String(b.port), "-t", "once", "-q", "1", "-m", "x"], { stdio: ["ignore", "ignore", "pipe"] });
          let stderr = "";
          theirs.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
          const status = await new Promise<number | null>((res) => theirs.on("close", res));
          assert.deepEqual({ status, stderr }, { status: r.status, stderr: r.stderr }, "mosquitto_pub does the same");
          assert.equal(b.conns.length, 2);
        }
      } finally {
        await b.close();
      }
    });

    it("-V 5 to a broker that closes after CONNECT: pub ends with status 7 as mosquitto_pub, sub keeps trying as mosquitto_sub", async function () {
      this.timeout(20000);
      const b = await FakeBroker.start();
      b.connack = (conn) => (conn.socket.end(), null);
      try {
        const r = await xsmqtt(["pub", ...e, "-p", String(b.port), "-V", "5", "-t", "t", "-m", "x"]);
        assert.equal(r.stderr, "Error: The connection was lost.\n");
        assert.equal(r.status, 7);
        if (fs.existsSync("/usr/bin/mosquitto_pub")) {
          const theirs = spawn("/usr/bin/mosquitto_pub", ["-p", String(b.port), "-V", "5", "-t", "t", "-m", "x"], { stdio: ["ignore", "ignore", "pipe"] });
          let stderr = "";
          theirs.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
          const status = await new Promise<number | null>((res) => theirs.on("close", res));
          assert.deepEqual({ status, stderr }, { status: r.status, stderr: r.stderr }, "mosquitto_pub does the same");
        }
        const before = b.conns.length;
        const sub = new Cli(["sub", ...e, "-p", String(b.port), "-V", "5", "-t", "t"]);
        await b.waitConns(before + 2, 8000);
        assert.equal(sub.child.exitCode, null, "still trying");
        sub.child.kill();
        await sub.done;
      } finally {
        await b.close();
      }
    });
  });
}

/** mosquitto's own client, when installed, with its standard output and error as lines. */
function mosquittoClient(name: "mosquitto_pub" | "mosquitto_sub", args: string[]): Promise<{ status: number | null; lines: string[] }> | null {
  const bin = `/usr/bin/${name}`;
  if (!fs.existsSync(bin)) {
    if (process.env.CI) throw new Error(`${name} is not installed (apt-get install mosquitto-clients); CI must compare with it`);
    return null;
  }
  // not spawnSync: a scripted broker answers from this process's event loop
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (text += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (text += d));
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, lines: text.split("\n").filter((l) => l !== "") })));
}

/** The -d lines of a run, without ours that mosquitto's clients do not print ("connecting to"). */
const debugLines = (stderr: string) => stderr.split("\n").filter((l) => l !== "" && !/ connecting to /.test(l));

for (const engine of ENGINES) {
  describe(`xsmqtt pub/sub at QoS 2 (${engine})`, () => {
    const e = ["--engine", engine];
    let broker: Mosquitto;
    let p: string;

    before(async function () {
      requireMosquitto(this);
      this.timeout(30000);
      broker = await startMosquitto();
      p = String(broker.port);
    });
    after(() => broker?.close());

    it("pub -q 2 → mosquitto → sub -q 2: lines, a binary file and an empty message arrive intact, once each", async function () {
      this.timeout(30000);
      const t = fresh(`qos2-${engine}`);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-cli-"));
      const file = path.join(dir, "payload.bin");
      const bytes = Buffer.alloc(50_000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + (i >> 7)) & 0xff;
      fs.writeFileSync(file, bytes);
      try {
        const lines = Array.from({ length: 300 }, (_, i) => `line ${i} ünïcode`);
        const sub = await subscriber([...e, "-p", p, "-t", `${t}/#`, "-q", "2", "-C", String(lines.length + 2), "-v"]);
        await pub([...e, "-p", p, "-t", `${t}/lines`, "-q", "2", "-l", "-M", "8"], lines.join("\n") + "\n");
        await pub([...e, "-p", p, "-t", `${t}/file`, "-q", "2", "-f", file]);
        await pub([...e, "-p", p, "-t", `${t}/empty`, "-q", "2", "-n"]);
        const r = await ok(sub);
        const expected = Buffer.concat([
          Buffer.from(lines.map((l) => `${t}/lines ${l}\n`).join("")),
          Buffer.from(`${t}/file `),
          bytes,
          Buffer.from(`\n${t}/empty (null)\n`),
        ]);
        assert.ok(r.out.equals(expected), `output differs: ${r.out.length} bytes, expected ${expected.length}`);
        // every QoS 2 message of the subscriber completed its flow
        const recs = r.stderr.match(/sending PUBREC \(m\d+, rc0\)/g)?.length ?? 0;
        const comps = r.stderr.match(/sending PUBCOMP \(m\d+\)/g)?.length ?? 0;
        assert.deepEqual([recs, comps], [lines.length + 2, lines.length + 2]);
        assert.match(r.stderr, /sending PUBCOMP \(m\d+\)\nClient \S+ sending DISCONNECT\n$/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("-d prints the QoS 2 flow as mosquitto_pub and mosquitto_sub -d do", async function () {
      this.timeout(20000);
      const t = fresh(`qos2-debug-${engine}`);
      const id = (role: string) => `xsmqtt-q2-${role}-${engine}`;
      const expectSub = (c: string) => [
        `Client ${c} sending CONNECT`,
        `Client ${c} received CONNACK (0)`,
        `Client ${c} sending SUBSCRIBE (Mid: 1, Topic: ${t}, QoS: 2, Options: 0x00)`,
        `Client ${c} received SUBACK`,
        "Subscribed (mid: 1): 2",
        `Client ${c} received PUBLISH (d0, q2, r0, m1, '${t}', ... (7 bytes))`,
        `Client ${c} sending PUBREC (m1, rc0)`,
        `Client ${c} received PUBREL (Mid: 1)`,
        `Client ${c} sending PUBCOMP (m1)`,
        `Client ${c} sending DISCONNECT`,
      ];
      const expectPub = (c: string) => [
        `Client ${c} sending CONNECT`,
        `Client ${c} received CONNACK (0)`,
        `Client ${c} sending PUBLISH (d0, q2, r0, m1, '${t}', ... (7 bytes))`,
        `Client ${c} received PUBREC (Mid: 1)`,
        `Client ${c} sending PUBREL (m1)`,
        `Client ${c} received PUBCOMP (Mid: 1, RC:0)`,
        `Client ${c} sending DISCONNECT`,
      ];
      const sub = await subscriber([...e, "-p", p, "-t", t, "-q", "2", "-C", "1", "-i", id("sub")]);
      const r = await pub([...e, "-p", p, "-t", t, "-q", "2", "-m", "exactly", "-d", "-i", id("pub")]);
      const s = await ok(sub);
      assert.equal(s.stdout, "exactly\n");
      assert.deepEqual(debugLines(r.stderr), expectPub(id("pub")));
      assert.deepEqual(debugLines(s.stderr), expectSub(id("sub")));

      // and mosquitto's clients print the same lines (theirs interleave the payload on standard output)
      const theirSub = mosquittoClient("mosquitto_sub", ["-p", p, "-t", t, "-q", "2", "-C", "1", "-d", "-i", "mosq-sub"]);
      if (!theirSub) return;
      await new Promise((res) => setTimeout(res, 300)); // its SUBSCRIBE first
      const theirPub = await mosquittoClient("mosquitto_pub", ["-p", p, "-t", t, "-q", "2", "-m", "exactly", "-d", "-i", "mosq-pub"])!;
      const ts = await theirSub;
      assert.equal(theirPub.status, 0);
      assert.equal(ts.status, 0);
      assert.deepEqual(theirPub.lines, expectPub("mosq-pub"));
      assert.deepEqual(ts.lines.filter((l) => l !== "exactly"), expectSub("mosq-sub"));
    });

    it("sub -C 1 -q 2: PUBREC, then waits for the PUBREL, then PUBCOMP before DISCONNECT, byte for byte (as mosquitto_sub)", async function () {
      this.timeout(20000);
      const b = await FakeBroker.start();
      const raw = new Map<number, Buffer[]>();
      const relSent = new Map<number, number>();
      b.onPacket = (conn, packet) => {
        if (packet.cmd === "connect") {
          raw.set(conn.id, []);
          conn.socket.on("data", (d: Buffer) => raw.get(conn.id)!.push(d));
        }
        if (packet.cmd === "subscribe")
          setImmediate(() => conn.send({ cmd: "publish", topic: "q2/once", payload: Buffer.from("once"), qos: 2, messageId: 7, dup: false, retain: false }));
        // the PUBREL late, so a client that counted the message at its PUBLISH is seen leaving without the PUBCOMP
        if (packet.cmd === "pubrec")
          setTimeout(() => {
            relSent.set(conn.id, seqNow());
            conn.send({ cmd: "pubrel", messageId: packet.messageId });
          }, 300);
      };
      const seqNow = () => b.received.length;
      try {
        const r = await xsmqtt(["sub", ...e, "-p", String(b.port), "-t", "q2/#", "-q", "2", "-C", "1"]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, "once\n");
        const order = (conn: number) => b.received.filter((x) => x.conn === conn).map((x) => x.packet.cmd);
        assert.deepEqual(order(1), ["connect", "subscribe", "pubrec", "pubcomp", "disconnect"]);
        assert.equal(relSent.get(1), 3, "nothing after the PUBREC until the PUBREL went");
        // after the SUBSCRIBE: PUBREC 7, PUBCOMP 7, DISCONNECT, and nothing else
        const sent = Buffer.concat(raw.get(1)!);
        const subscribe = b.of("subscribe", 1)[0].packet;
        const subscribeBytes = 2 + subscribe.length;
        assert.equal(sent.subarray(subscribeBytes).toString("hex"), "50020007" + "70020007" + "e000");

        // mosquitto_sub does the same, in the same order
        const theirs = mosquittoClient("mosquitto_sub", ["-p", String(b.port), "-t", "q2/#", "-q", "2", "-C", "1"]);
        if (!theirs) return;
        const t = await theirs;
        assert.equal(t.status, 0);
        assert.deepEqual(t.lines, ["once"]);
        assert.deepEqual(order(2), order(1));
      } finally {
        await b.close();
      }
    });
  });
}
