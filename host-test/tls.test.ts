/**
 * TLS: mosquitto with TLS listeners (server certificate; then client certificates
 * required), certificates made by openssl at test time. Connect and publish; an unknown CA
 * and a certificate for another name are refused; a client certificate is required and
 * works; and neither the password nor key material ever shows in an event or error
 * message. Runs on Node and in XS, whose bridge opens the TLS socket on the Node side from
 * the broker entry (JSON with PEM strings).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import tls from "node:tls";
import net from "node:net";
import { startAedes, startMosquitto, type AedesBroker, type Mosquitto } from "../tools/runtime/brokers.js";
import { requireMosquitto } from "./needs.js";
import { makeCerts, type TestCerts } from "./certs.js";
import { openClientEngine, type ClientEngine } from "./client/harness.js";
import { ENGINES } from "./engines.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = (s: string) => Buffer.from(s).toString("hex");
const text = (h: string) => Buffer.from(h, "hex").toString();

let n = 0;
const uid = (what: string) => `${what}${process.pid % 100000}-${++n}`;


const tlsListener = (c: TestCerts) => [`cafile ${c.caCert}`, `certfile ${c.serverCert}`, `keyfile ${c.serverKey}`];

describe("TLS", function () {
  this.timeout(30000);
  let certs: TestCerts;
  let other: TestCerts;
  let plain: Mosquitto; // server certificate only
  let mutual: Mosquitto; // client certificate required
  let misnamed: Mosquitto; // certificate for other.example only
  let refusing: AedesBroker; // aedes behind TLS, refusing every password
  let refusingServer: tls.Server;
  let refusingPort = 0;
  const password = `pw-${randomBytes(8).toString("hex")}`;

  before(async function () {
    requireMosquitto(this);
    certs = makeCerts();
    other = makeCerts(["DNS:other.example"]); // makeCerts leaves them readable to mosquitto's user
    plain = await startMosquitto({ listener: tlsListener(certs) });
    mutual = await startMosquitto({ listener: [...tlsListener(certs), "require_certificate true", "use_identity_as_username true"] });
    misnamed = await startMosquitto({ listener: tlsListener(other) });
    refusing = await startAedes({ authenticate: (_c, _u, _p, done) => done(Object.assign(new Error("bad credentials"), { returnCode: 4 }), false) });
    refusingServer = tls.createServer({ cert: certs.pem.serverCert, key: certs.pem.serverKey }, refusing.aedes.handle);
    await new Promise<void>((r) => refusingServer.listen(0, "127.0.0.1", () => r()));
    refusingPort = (refusingServer.address() as net.AddressInfo).port;
  });
  after(async () => {
    await plain?.close();
    await mutual?.close();
    await misnamed?.close();
    if (refusingServer) await new Promise<void>((r) => refusingServer.close(() => r()));
    await refusing?.close();
    certs?.remove();
    other?.remove();
  });

  for (const engineName of ENGINES) {
    describe(`on ${engineName}`, () => {
      let engine: ClientEngine;
      beforeEach(async () => {
        engine = await openClientEngine(engineName);
      });
      afterEach(async function () {
        await engine.close();
        assert.deepEqual(engine.failures(), []);
        if (process.env.XSMQTT_VERBOSE) for (const x of engine.log.of("error")) console.log(`      ${engineName} ${x.code}: ${x.message}`);
        // no secret in anything the client reported: events, error messages, disconnect reasons
        const all = JSON.stringify(engine.log.events);
        assert.ok(!all.includes(password) && !all.includes(hex(password)), "the password appears in an event");
        assert.ok(!/PRIVATE KEY/.test(all), "key material appears in an event");
        for (const key of [certs.pem.clientKey, certs.pem.serverKey]) {
          for (const line of key.split("\n").filter((l) => l.length >= 40 && !l.startsWith("-----"))) assert.ok(!all.includes(line), "a line of a private key appears in an event");
        }
      });

      const broker = (port: number, extra: object = {}) => ({ host: "127.0.0.1", port, tls: true, ca: certs.pem.ca, ...extra });
      const errorOf = (c: string) => engine.log.waitFor((e) => e.type === "error" && e.client === c, 5000, `${c} error`);

      it("connects, subscribes and publishes over TLS, verifying the broker against its CA", async () => {
        const c = uid("t");
        await engine.call("create", c, { clientId: c, brokers: [broker(plain.port)], username: "user", password: hex(password) });
        await engine.call("subscribe", c, "tls/x", 1);
        await engine.call("connect", c);
        await engine.log.waitFor((e) => e.type === "suback" && e.client === c, 8000, "SUBACK over TLS");
        await engine.call("publishMany", c, "tls/x", "secure-", 0, 20, { qos: 1 });
        const msgs = await engine.log.waitCount((e) => e.type === "message" && e.client === c, 20, 5000, "messages over TLS");
        assert.deepEqual(msgs.map((m) => text(m.payload)), Array.from({ length: 20 }, (_, i) => `secure-${i}`));
        // the last PUBACK may come after the broker's copy of the last message
        await engine.log.waitCount((e) => e.type === "delivered" && e.client === c, 20, 5000, "PUBACKs over TLS");
        assert.equal(engine.log.of("delivered", c).length, 20);
      });

      it("refuses a broker whose certificate comes from an unknown CA: an error, no connection", async () => {
        const c = uid("u");
        await engine.call("create", c, { clientId: c, brokers: [broker(plain.port, { ca: certs.pem.otherCa })], username: "user", password: hex(password), reconnect: { min: 10000 } });
        await engine.call("connect", c);
        const e = await errorOf(c);
        assert.equal(e.code, "TransportError");
        assert.match(e.message, /certificate|UNABLE_TO_VERIFY|SELF_SIGNED/i);
        await sleep(300);
        assert.equal(engine.log.of("connect", c).length, 0);
      });

      it("refuses a certificate issued for another name (connect by IP, servername localhost)", async () => {
        const c = uid("h");
        await engine.call("create", c, { clientId: c, brokers: [{ host: "127.0.0.1", port: misnamed.port, tls: true, ca: other.pem.ca, servername: "localhost" }], reconnect: { min: 10000 } });
        await engine.call("connect", c);
        const e = await errorOf(c);
        assert.equal(e.code, "TransportError");
        assert.match(e.message, /ALTNAME|does not match|not in the cert/i);
        await sleep(300);
        assert.equal(engine.log.of("connect", c).length, 0);
        // the same broker, named as its certificate says, is accepted
        const d = uid("h");
        await engine.call("create", d, { clientId: d, brokers: [{ host: "127.0.0.1", port: misnamed.port, tls: true, ca: other.pem.ca, servername: "other.example" }] });
        await engine.call("connect", d);
        await engine.log.waitFor((x) => x.type === "connect" && x.client === d, 8000, "connect with the right name");
      });

      it("checkServerName: false (--insecure) accepts a certificate for another name on that connection only; the CA is still checked", async () => {
        const misnamedBroker = (extra: object) => ({ host: "127.0.0.1", port: misnamed.port, tls: true, ca: other.pem.ca, servername: "localhost", ...extra });
        const lax = uid("i");
        await engine.call("create", lax, { clientId: lax, brokers: [misnamedBroker({ checkServerName: false })] });
        await engine.call("connect", lax);
        await engine.log.waitFor((x) => x.type === "connect" && x.client === lax, 8000, "connect without the name check");
        // a second connection in the same process, made after it, still checks the name
        const strict = uid("i");
        await engine.call("create", strict, { clientId: strict, brokers: [misnamedBroker({})], reconnect: { min: 10000 } });
        await engine.call("connect", strict);
        assert.match((await errorOf(strict)).message, /ALTNAME|does not match|not in the cert/i);
        // and skipping the name check does not skip the chain
        const wrongCa = uid("i");
        await engine.call("create", wrongCa, { clientId: wrongCa, brokers: [misnamedBroker({ checkServerName: false, ca: certs.pem.otherCa })], reconnect: { min: 10000 } });
        await engine.call("connect", wrongCa);
        assert.match((await errorOf(wrongCa)).message, /certificate|UNABLE_TO_VERIFY|SELF_SIGNED/i);
        assert.equal(engine.log.of("connect", strict).length + engine.log.of("connect", wrongCa).length, 0);
      });

      it("authenticates with a client certificate, and is refused without one", async () => {
        const c = uid("m");
        await engine.call("create", c, { clientId: c, brokers: [broker(mutual.port, { cert: certs.pem.clientCert, key: certs.pem.clientKey })] });
        await engine.call("subscribe", c, "tls/mutual", 1);
        await engine.call("connect", c);
        await engine.log.waitFor((e) => e.type === "suback" && e.client === c, 8000, "SUBACK with a client certificate");
        await engine.call("publish", c, "tls/mutual", { text: "with cert" }, { qos: 1 });
        const m = await engine.log.waitFor((e) => e.type === "message" && e.client === c, 5000, "message");
        assert.equal(text(m.payload), "with cert");

        const d = uid("m");
        await engine.call("create", d, { clientId: d, brokers: [broker(mutual.port)], username: "user", password: hex(password), reconnect: { min: 10000 } });
        await engine.call("connect", d);
        const e = await errorOf(d);
        assert.ok(["TransportError", "ConnectTimeout"].includes(e.code), `${e.code}: ${e.message}`);
        await sleep(300);
        assert.equal(engine.log.of("connect", d).length, 0, "no connection without a client certificate");
      });

      it("keeps the password and key material out of errors: refused credentials, a broken key", async () => {
        const c = uid("p");
        await engine.call("create", c, { clientId: c, brokers: [broker(refusingPort)], username: "user", password: hex(password), reconnect: { min: 10000 } });
        await engine.call("connect", c);
        const e = await errorOf(c);
        assert.equal(e.code, "ConnectionRefused");
        assert.equal(e.returnCode, 4);
        // a key that cannot be used: its text must not come back in the error
        const broken = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(password.repeat(4)).toString("base64")}\n-----END PRIVATE KEY-----\n`;
        const k = uid("k");
        await engine.call("create", k, { clientId: k, brokers: [broker(mutual.port, { cert: certs.pem.clientCert, key: broken })], connectTimeout: 1000, reconnect: { min: 10000 } });
        await engine.call("connect", k);
        const f = await errorOf(k);
        assert.ok(["TransportError", "ConnectTimeout"].includes(f.code), `${f.code}: ${f.message}`);
        assert.ok(!f.message.includes(broken.split("\n")[1]));
        assert.equal(engine.log.of("connect", k).length, 0);
        // a key that does not match its certificate
        const m = uid("k");
        await engine.call("create", m, { clientId: m, brokers: [broker(mutual.port, { cert: certs.pem.clientCert, key: other.pem.clientKey })], connectTimeout: 1000, reconnect: { min: 10000 } });
        await engine.call("connect", m);
        const g = await errorOf(m);
        assert.ok(["TransportError", "ConnectTimeout"].includes(g.code), `${g.code}: ${g.message}`);
        assert.equal(engine.log.of("connect", m).length, 0);
      });
    });
  }
});
