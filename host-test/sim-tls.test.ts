/**
 * Opt-in (XSMQTT_MODDABLE_E2E=1, $MODDABLE set, Linux with xvfb-run): TLS in the Moddable
 * desktop build, against mosquitto with openssl-made certificates. The firmware is built
 * with `ca=` through the device tool's conversion (PEM to DER) and run in mcsim.
 *
 * 1. One build, three brokers in turn: one that sends only its leaf certificate, one whose
 *    certificate names another host, and a good one. The first two are refused with a
 *    close reason (no crash), the client moves on, connects to the third and publishes
 *    readings; the handshake time and heap cost are printed (an instrumented build).
 * 2. A build that trusts another CA: refused, retried with backoff, the app keeps sampling.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { makeCerts, type TestCerts } from "./certs.js";
import { until } from "./wait.js";
import { startMosquitto, type Mosquitto } from "../tools/runtime/brokers.js";
import { caPath, installCa } from "../tools/device.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const e2e = process.env.XSMQTT_MODDABLE_E2E === "1" && !!process.env.MODDABLE && process.platform === "linux";

(e2e ? describe : describe.skip)("TLS in the Moddable simulator (XSMQTT_MODDABLE_E2E=1)", function () {
  this.timeout(300000);
  let certs: TestCerts;
  const brokers: Mosquitto[] = [];
  const sims: ChildProcess[] = [];
  let work = "";
  const env = { ...process.env, PATH: `${process.env.MODDABLE}/build/bin/lin/release:${process.env.PATH}` };

  before(async () => {
    // the server certificate names 127.0.0.1 only: "localhost" is the wrong host
    certs = makeCerts(["IP:127.0.0.1"]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-sim-tls-"));
    const chain = path.join(certs.dir, "chain.crt");
    fs.writeFileSync(chain, fs.readFileSync(certs.serverCert, "utf8") + fs.readFileSync(certs.caCert, "utf8"));
    fs.chmodSync(chain, 0o644);
    // no cafile: OpenSSL would build the chain from it and send it anyway
    const tls = (certfile: string) => [`certfile ${certfile}`, `keyfile ${certs.serverKey}`, "tls_version tlsv1.2"];
    brokers.push(await startMosquitto({ listener: tls(certs.serverCert) })); // leaf only
    brokers.push(await startMosquitto({ listener: tls(chain) })); // good
  });

  after(async () => {
    for (const s of sims) {
      try {
        process.kill(-s.pid!, "SIGKILL");
      } catch {
        // gone
      }
    }
    for (const b of brokers) await b.close();
    installCa(undefined);
    certs?.remove();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  function build(name: string, ca: string, settings: string[]): string {
    installCa(ca); // what `npm run build:device -- host ca=<file>` does: PEM in, DER built in
    assert.equal(fs.readFileSync(caPath())[0], 0x30, "DER written");
    const out = path.join(work, name);
    fs.mkdirSync(out);
    // -i: an instrumented build, so the TLS transport can report the heap the handshake costs
    const r = spawnSync("mcconfig", ["-m", "-i", "-p", "lin", "-t", "build", "-o", out, "interval=500", ...settings], { cwd: root, encoding: "utf8", env });
    assert.equal(r.status, 0, (r.stdout + r.stderr).slice(-2000));
    const so = path.join(out, "bin/lin/mc/instrument/xsmqtt/mc.so");
    assert.ok(fs.existsSync(so), `no ${so}`);
    return so;
  }

  function run(so: string): { lines: string[]; process: ChildProcess } {
    const mcsim = path.join(process.env.MODDABLE!, "build/bin/lin/release/mcsim");
    const s = spawn("xvfb-run", ["-a", "stdbuf", "-oL", mcsim, so], { stdio: ["ignore", "pipe", "pipe"], detached: true, env });
    sims.push(s);
    const lines: string[] = [];
    let rest = "";
    s.stdout!.on("data", (d) => {
      const parts = (rest + d).split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    });
    s.stderr!.on("data", (d) => lines.push(`stderr: ${d}`));
    return { lines, process: s };
  }

  it("refuses a leaf-only server and a wrong host with reasons, then connects and publishes", async () => {
    const [leafOnly, good] = brokers;
    const id = `simtls-${process.pid}`;
    const so = build("good", certs.caCert, [
      `deviceId=${id}`,
      `brokers=mqtts://127.0.0.1:${leafOnly.port},mqtts://localhost:${good.port},mqtts://127.0.0.1:${good.port}`,
    ]);
    const sub = await mqtt.connectAsync(`mqtts://127.0.0.1:${good.port}`, { ca: certs.pem.ca });
    const got: string[] = [];
    sub.on("message", (topic) => got.push(topic));
    await sub.subscribeAsync(`xsmqtt/${id}/#`, { qos: 1 });
    const sim = run(so);
    try {
      await until(() => got.filter((t) => !t.endsWith("/status")).length >= 3, 90000, "readings over TLS").catch((e) => {
        throw new Error(`${(e as Error).message}; the simulator said:\n${sim.lines.slice(-40).join("\n")}`);
      });
      const log = sim.lines.join("\n");
      const refusals = sim.lines.filter((l) => l.includes("certificate was refused"));
      assert.ok(refusals.length >= 2, `two refusals in:\n${log}`);
      assert.match(log, new RegExp(`mqtt connected to 127\\.0\\.0\\.1:${good.port}`));
      const report = sim.lines.find((l) => l.includes("tls: 127.0.0.1 verified in"));
      assert.ok(report, `a handshake report in:\n${log}`);
      process.stdout.write(`      ${report.trim()}\n`);
      assert.equal(sim.process.exitCode, null, "the simulator still runs");
      assert.doesNotMatch(log, /unhandled|abort/i);
    } finally {
      await sub.endAsync(true);
      process.kill(-sim.process.pid!, "SIGKILL");
    }
  });

  it("refuses a broker signed by an unknown CA, retries with backoff, keeps sampling", async () => {
    const good = brokers[1];
    const so = build("other-ca", certs.otherCaCert, [`deviceId=simtls2-${process.pid}`, `brokers=mqtts://127.0.0.1:${good.port}`]);
    const sim = run(so);
    try {
      await until(() => sim.lines.filter((l) => l.includes("certificate was refused")).length >= 3, 60000, "three refusals");
      const log = sim.lines.join("\n");
      assert.doesNotMatch(log, /mqtt connected/);
      assert.equal(sim.process.exitCode, null, "the simulator still runs");
    } finally {
      process.kill(-sim.process.pid!, "SIGKILL");
    }
  });
});
