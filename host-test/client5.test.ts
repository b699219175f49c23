/**
 * The client under MQTT 5.0 (`protocolVersion: 5`): against mosquitto 2 (which speaks it)
 * for what users meet, a mosquitto configured with limits to prove each one is obeyed,
 * aedes (which refuses 5.0) for the refusal a 3.1.1 broker gives, and the scripted broker
 * for what no real broker will send on demand: failure reason codes on each ack, a server
 * DISCONNECT with a reason, a Topic Alias we never announced, an AUTH. Both engines.
 */
import assert from "node:assert/strict";
import { startAedes, startMosquitto, type AedesBroker, type Mosquitto } from "../tools/runtime/brokers.js";
import { requireMosquitto } from "./needs.js";
import { openClientEngine, type ClientEngine } from "./client/harness.js";
import { ENGINES } from "./engines.js";
import { FakeBroker } from "./fake-broker.js";

const local = (port: number) => ({ host: "127.0.0.1", port });
const text = (hex: string) => Buffer.from(hex, "hex").toString();
const hex = (s: string) => Buffer.from(s).toString("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let n = 0;
const uid = (what: string) => `${what}5-${process.pid}-${++n}`;

for (const engineName of ENGINES) {
  describe(`client, MQTT 5.0, on ${engineName}`, function () {
    this.timeout(20000);
    let engine: ClientEngine;
    let fake: FakeBroker | null = null;

    beforeEach(async () => {
      engine = await openClientEngine(engineName);
    });
    afterEach(async () => {
      await engine.close();
      assert.deepEqual(engine.failures(), []);
      await fake?.close();
      fake = null;
    });

    const connected = (client: string, count = 1) =>
      engine.log.waitCount((e) => e.type === "connect" && e.client === client, count, 8000, `${client} connect #${count}`);
    const errors = (client: string) => engine.log.of("error", client);

    describe("against mosquitto", () => {
      let mosq: Mosquitto;
      before(async function () {
        requireMosquitto(this);
        mosq = await startMosquitto();
      });
      after(async () => mosq?.close());

      /** A persistent-session subscriber to `topic` (Session Expiry `expiry` s), subscribed and gone, and a connected 5.0 publisher. */
      const away = async (what: string, topic: string, expiry: number) => {
        const id = uid(what);
        const opts = (e: number) => ({ clientId: id, brokers: [local(mosq.port)], protocolVersion: 5 as const, clean: false, sessionExpiry: e });
        await engine.call("create", id, opts(expiry));
        await engine.call("subscribe", id, topic, 1);
        await engine.call("connect", id);
        await engine.log.waitFor((e) => e.type === "suback" && e.client === id, 5000, "SUBACK");
        await engine.call("close", id);
        const pub = uid("p");
        await engine.call("create", pub, { clientId: pub, brokers: [local(mosq.port)], protocolVersion: 5 });
        await engine.call("connect", pub);
        await connected(pub);
        return { id, opts, pub };
      };

      it("connects as 5.0 and carries QoS 0, 1 and 2 with their properties both ways", async () => {
        const sub = uid("s");
        await engine.call("create", sub, { clientId: sub, brokers: [local(mosq.port)], protocolVersion: 5 });
        await engine.call("subscribe", sub, "xs5/p/#", 2);
        await engine.call("connect", sub);
        const ack = await engine.log.waitFor((e) => e.type === "suback" && e.client === sub, 5000, "SUBACK");
        assert.equal(ack.granted, 2);
        const limits = (await engine.call("server", sub)) as any;
        assert.equal(limits.protocolVersion, 5);
        assert.equal(limits.maximumQoS, 2);

        const pub = uid("p");
        await engine.call("create", pub, { clientId: pub, brokers: [local(mosq.port)], protocolVersion: 5 });
        await engine.call("connect", pub);
        await connected(pub);
        await engine.call("publishMany", pub, "xs5/p/0", "a", 0, 5, { qos: 0 });
        await engine.call("publishMany", pub, "xs5/p/1", "b", 0, 5, { qos: 1 });
        await engine.call("publishMany", pub, "xs5/p/2", "c", 0, 5, { qos: 2 });
        const properties = {
          payloadFormatIndicator: true,
          contentType: "application/json",
          responseTopic: "xs5/reply",
          correlationData: "req-7",
          userProperties: { site: "lab", shelf: ["a", "b"] },
          messageExpiryInterval: 3600,
        };
        const r = (await engine.call("publish", pub, "xs5/p/props", { text: '{"t":21.5}' }, { qos: 1, properties })) as any;
        assert.equal(r.error, undefined, r.error?.message);
        const msgs = await engine.log.waitCount((e) => e.type === "message" && e.client === sub, 16, 8000, "16 messages");
        for (const q of [0, 1, 2]) {
          const got = msgs.filter((m) => m.topic === `xs5/p/${q}`);
          assert.deepEqual(got.map((m) => text(m.payload)), [0, 1, 2, 3, 4].map((i) => "abc"[q] + i), `QoS ${q} in order, once`);
          assert.ok(got.every((m) => m.qos === q));
        }
        const p = msgs.find((m) => m.topic === "xs5/p/props")!;
        assert.equal(text(p.payload), '{"t":21.5}');
        assert.equal(p.properties.contentType, "application/json");
        assert.equal(p.properties.responseTopic, "xs5/reply");
        assert.equal(text(p.properties.correlationData), "req-7");
        assert.equal(p.properties.payloadFormatIndicator, true);
        assert.deepEqual(p.properties.userProperties, { site: "lab", shelf: ["a", "b"] });
        assert.ok(p.properties.messageExpiryInterval > 3590 && p.properties.messageExpiryInterval <= 3600, "the broker passes the expiry on, counted down");
        await engine.log.waitCount((e) => e.type === "delivered" && e.client === pub, 16, 5000, "16 delivered");
        const s = (await engine.call("stats", pub)) as any;
        assert.equal(s.inflight, 0);
        assert.equal(s.refusedByBroker, 0);
      });

      it("keeps the session across a reconnect with Session Expiry > 0, and not with 0", async () => {
        const { id, opts, pub } = await away("sess", "xs5/sess", 60);
        await engine.call("publishMany", pub, "xs5/sess", "m", 0, 3, { qos: 1 });
        await engine.log.waitCount((e) => e.type === "delivered" && e.client === pub, 3, 5000, "published");
        const again = id + "-again";
        await engine.call("create", again, opts(0));
        await engine.call("connect", again);
        const [c] = await connected(again);
        assert.equal(c.sessionPresent, true, "the session outlived the connection");
        const msgs = await engine.log.waitCount((e) => e.type === "message" && e.client === again, 3, 5000, "queued messages");
        assert.deepEqual(msgs.map((m) => text(m.payload)), ["m0", "m1", "m2"]);
        // that CONNECT asked for Session Expiry 0: this session ends with this connection
        await engine.call("close", again);
        const third = id + "-third";
        await engine.call("create", third, opts(0));
        await engine.call("connect", third);
        const [c3] = await connected(third);
        assert.equal(c3.sessionPresent, false, "Session Expiry 0: no session after the connection ended");
      });

      it("an abandoned session ends after its Session Expiry; a message that expires while we sleep is not delivered", async () => {
        const { id, opts, pub } = await away("sleep", "xs5/sleep", 30);
        await engine.call("publish", pub, "xs5/sleep", { text: "short-lived" }, { qos: 1, properties: { messageExpiryInterval: 1 } });
        await engine.call("publish", pub, "xs5/sleep", { text: "lasting" }, { qos: 1, properties: { messageExpiryInterval: 60 } });
        await engine.log.waitCount((e) => e.type === "delivered" && e.client === pub, 2, 5000, "published");
        await sleep(2100);
        // waking: the session is there, the expired message is not, and the other carries what is left of its expiry
        const wake = id + "-wake";
        await engine.call("create", wake, opts(1));
        await engine.call("connect", wake);
        const [w] = await connected(wake);
        assert.equal(w.sessionPresent, true);
        const [m] = await engine.log.waitCount((e) => e.type === "message" && e.client === wake, 1, 5000, "the lasting one");
        assert.equal(text(m.payload), "lasting");
        assert.ok(m.properties.messageExpiryInterval <= 58, `expiry counted down while asleep (${m.properties.messageExpiryInterval})`);
        await sleep(200);
        assert.equal(engine.log.of("message", wake).length, 1, "the expired one not delivered");
        // this connection asked for 1 s: abandoned, the session ends
        await engine.call("close", wake);
        await sleep(2500);
        const late = id + "-late";
        await engine.call("create", late, opts(0));
        await engine.call("connect", late);
        const [l] = await connected(late);
        assert.equal(l.sessionPresent, false, "the session expired");
      });

      it("publishes the will on close(0x04), not on close(), and carries the will's properties", async () => {
        const s = uid("s");
        await engine.call("create", s, { clientId: s, brokers: [local(mosq.port)], protocolVersion: 5 });
        await engine.call("subscribe", s, "xs5/will/#", 1);
        await engine.call("connect", s);
        await engine.log.waitFor((e) => e.type === "suback" && e.client === s, 5000, "SUBACK");
        const will = (id: string) => ({ topic: `xs5/will/${id}`, payload: hex("offline"), qos: 1, retain: false, properties: { contentType: "text/plain", userProperties: { why: "gone" } } });
        const polite = uid("w");
        await engine.call("create", polite, { clientId: polite, brokers: [local(mosq.port)], protocolVersion: 5, will: will(polite) });
        await engine.call("connect", polite);
        await connected(polite);
        await engine.call("close", polite);
        const leaving = uid("w");
        await engine.call("create", leaving, { clientId: leaving, brokers: [local(mosq.port)], protocolVersion: 5, will: will(leaving) });
        await engine.call("connect", leaving);
        await connected(leaving);
        await engine.call("close", leaving, 0x04);
        const m = await engine.log.waitFor((e) => e.type === "message" && e.client === s, 5000, "the will");
        assert.equal(m.topic, `xs5/will/${leaving}`);
        assert.equal(text(m.payload), "offline");
        assert.equal(m.properties.contentType, "text/plain");
        assert.deepEqual(m.properties.userProperties, { why: "gone" });
        await sleep(200);
        assert.deepEqual(engine.log.of("message", s).map((e) => e.topic), [`xs5/will/${leaving}`], "no will after a normal DISCONNECT");
      });

      it("routes by Subscription Identifier: overlapping filters each get a message once, as mosquitto names them", async () => {
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(mosq.port)], protocolVersion: 5 });
        await engine.call("subscribe", c, "xs5/sid/#", 1, true);
        await engine.call("subscribe", c, "xs5/sid/+/t", 1, true);
        await engine.call("connect", c);
        await engine.log.waitCount((e) => e.type === "suback" && e.client === c, 2, 5000, "2 SUBACKs");
        await engine.call("publish", c, "xs5/sid/x/t", { text: "both" }, { qos: 1 });
        await engine.call("publish", c, "xs5/sid/y", { text: "one" }, { qos: 1 });
        // mosquitto sends a copy per matching subscription, each naming its own: matched by topic,
        // each copy would run both handlers; by identifier each handler runs once
        await engine.log.waitCount((e) => e.type === "message" && e.client === c, 3, 5000, "3 copies");
        await sleep(100);
        const msgs = engine.log.of("message", c);
        assert.deepEqual(msgs.map((m) => `${text(m.payload)} ${m.properties.subscriptionIdentifier}`).sort(), ["both 1", "both 2", "one 1"]);
        assert.deepEqual(engine.log.of("handler", c).map((m) => `${m.filter} ${text(m.payload)}`).sort(), ["xs5/sid/# both", "xs5/sid/# one", "xs5/sid/+/t both"]);
      });

      it("subscription options: No Local keeps our own messages away; Retain Handling 2 sends no retained message", async () => {
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(mosq.port)], protocolVersion: 5 });
        await engine.call("connect", c);
        await connected(c);
        await engine.call("publish", c, "xs5/opt/retained", { text: "kept" }, { qos: 1, retain: true });
        await engine.log.waitFor((e) => e.type === "delivered" && e.client === c, 5000, "retained stored");
        await engine.call("subscribe", c, "xs5/opt/own", 1, false, { nl: true });
        await engine.call("subscribe", c, "xs5/opt/retained", 1, false, { rh: 2 });
        await engine.call("subscribe", c, "xs5/opt/all", 1);
        await engine.log.waitCount((e) => e.type === "suback" && e.client === c, 3, 5000, "3 SUBACKs");
        await engine.call("publish", c, "xs5/opt/own", { text: "mine" }, { qos: 1 });
        await engine.call("publish", c, "xs5/opt/all", { text: "marker" }, { qos: 1 });
        await engine.log.waitFor((e) => e.type === "message" && e.client === c && e.topic === "xs5/opt/all", 5000, "the marker");
        await sleep(100);
        assert.deepEqual(engine.log.of("message", c).map((e) => e.topic), ["xs5/opt/all"], "neither our own message (nl) nor the retained one (rh 2)");
        await engine.call("publish", c, "xs5/opt/retained", { text: "" }, { qos: 1, retain: true });
      });
    });

    describe("against a mosquitto with v5 limits", () => {
      let mosq: Mosquitto;
      before(async function () {
        requireMosquitto(this);
        mosq = await startMosquitto({ config: ["max_inflight_messages 2", "max_packet_size 300", "max_keepalive 10", "max_topic_alias 2"] });
      });
      after(async () => mosq?.close());

      it("obeys its Receive Maximum and Maximum Packet Size, and takes its Server Keep Alive", async function () {
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(mosq.port)], protocolVersion: 5, keepalive: 60, inflightWindow: 8 });
        await engine.call("subscribe", c, "xs5/lim", 1);
        await engine.call("connect", c);
        await engine.log.waitFor((e) => e.type === "suback" && e.client === c, 5000, "SUBACK");
        const l = (await engine.call("server", c)) as any;
        assert.equal(l.receiveMaximum, 2);
        assert.equal(l.maximumPacketSize, 300);
        assert.equal(l.serverKeepAlive, 10, "mosquitto's max_keepalive (10 s at least) under our 60");

        // Receive Maximum 2: of 20 QoS 1 messages, 2 in flight at once (mosquitto disconnects a client that sends more)
        await engine.call("publishMany", c, "xs5/lim", "m", 0, 20, { qos: 1 });
        assert.equal(((await engine.call("stats", c)) as any).inflight, 2);
        await engine.log.waitCount((e) => e.type === "delivered" && e.client === c, 20, 8000, "20 delivered");
        const msgs = await engine.log.waitCount((e) => e.type === "message" && e.client === c, 20, 8000, "20 back");
        assert.deepEqual(msgs.map((m) => text(m.payload)), Array.from({ length: 20 }, (_, i) => `m${i}`));

        // Maximum Packet Size 300: a larger PUBLISH is refused before a byte is sent
        const big = (await engine.call("publish", c, "xs5/lim", { size: 400 }, { qos: 1 })) as any;
        assert.equal(big.error?.code, "PacketTooLarge");
        const big0 = (await engine.call("publish", c, "xs5/lim", { size: 400 }, { qos: 0 })) as any;
        assert.equal(big0.error?.code, "PacketTooLarge", "the direct QoS 0 path too");
        const ok = (await engine.call("publish", c, "xs5/lim", { size: 200 }, { qos: 1 })) as any;
        assert.equal(ok.error, undefined);
        await engine.log.waitCount((e) => e.type === "message" && e.client === c, 21, 5000, "the 200-byte one");

        const s = (await engine.call("stats", c)) as any;
        assert.equal(s.connectionLosses, 0, "mosquitto never cut the connection (it does past its Receive Maximum or Maximum Packet Size)");
        assert.equal(engine.log.of("disconnect", c).length, 0);
      });

      it("obeys its Topic Alias Maximum: three topics over two aliases arrive whole and in order", async () => {
        const sub = uid("s");
        await engine.call("create", sub, { clientId: sub, brokers: [local(mosq.port)], protocolVersion: 5 });
        await engine.call("subscribe", sub, "xs5/al/#", 1);
        await engine.call("connect", sub);
        await engine.log.waitFor((e) => e.type === "suback" && e.client === sub, 5000, "SUBACK");
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(mosq.port)], protocolVersion: 5 });
        await engine.call("connect", c);
        await connected(c);
        assert.equal(((await engine.call("server", c)) as any).topicAliasMaximum, 2);
        const want: string[] = [];
        for (let round = 0; round < 4; round++)
          for (const t of ["first/topic", "second/topic", "third/topic"]) {
            await engine.call("publish", c, `xs5/al/${t}`, { text: `${t}:${round}` }, { qos: round & 1 });
            want.push(`xs5/al/${t} ${t}:${round}`);
          }
        const msgs = await engine.log.waitCount((e) => e.type === "message" && e.client === sub, 12, 8000, "12 messages");
        assert.deepEqual(msgs.map((m) => `${m.topic} ${text(m.payload)}`), want);
        const s = (await engine.call("stats", c)) as any;
        assert.equal(s.connectionLosses, 0, "mosquitto would have cut us for an alias above 2 (0x94)");
      });
    });

    describe("against aedes (3.1.1 only)", () => {
      let aedes: AedesBroker;
      before(async () => {
        aedes = await startAedes();
      });
      after(async () => aedes?.close());

      it("reports the refusal of a 3.1.1 broker as ConnectionRefused, and keeps trying", async () => {
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(aedes.port)], protocolVersion: 5, reconnect: { min: 200, max: 400, jitter: 0 } });
        await engine.call("connect", c);
        const e = await engine.log.waitFor((x) => x.type === "error" && x.client === c, 5000, "the refusal");
        // aedes answers a level-5 CONNECT with a 3.1.1 CONNACK 0x01, or closes the socket
        assert.ok(e.code === "ConnectionRefused" || e.code === "NoConnack", e.message);
        if (e.code === "ConnectionRefused") assert.equal(e.returnCode, 1);
        await engine.log.waitCount((x) => x.type === "error" && x.client === c, 2, 5000, "a retry");
        assert.equal(engine.log.of("connect", c).length, 0);
      });
    });

    describe("against a scripted broker", () => {
      beforeEach(async () => {
        fake = await FakeBroker.start();
      });

      it("sends a 5.0 CONNECT with exactly the properties given", async () => {
        const c = uid("c");
        await engine.call("create", c, {
          clientId: c,
          brokers: [local(fake!.port)],
          protocolVersion: 5,
          clean: false,
          sessionExpiry: 3600,
          inboundQos2: 12,
          maxInboundPacketSize: 4096,
          requestProblemInformation: false,
          connectUserProperties: { fw: "1.2", zone: ["a", "b"] },
          will: { topic: "xs5/w", payload: hex("bye"), qos: 1, retain: false, properties: { willDelayInterval: 30, messageExpiryInterval: 600 } },
        });
        await engine.call("connect", c);
        const p = (await fake!.waitFor((x) => x.packet.cmd === "connect", 5000, "CONNECT")).packet;
        assert.equal(p.protocolVersion, 5);
        assert.equal(p.clean, false);
        assert.deepEqual(JSON.parse(JSON.stringify(p.properties)), {
          sessionExpiryInterval: 3600,
          receiveMaximum: 12,
          maximumPacketSize: 4096,
          requestProblemInformation: false,
          userProperties: { fw: "1.2", zone: ["a", "b"] },
        });
        assert.deepEqual(p.will.properties, { willDelayInterval: 30, messageExpiryInterval: 600 });
        // 3.1.1 has no properties to carry them
        await assert.rejects(engine.call("create", uid("e"), { clientId: "e", brokers: [local(fake!.port)], connectUserProperties: { a: "b" } }), /need protocolVersion 5/);
        const d = uid("d");
        await engine.call("create", d, { clientId: d, brokers: [local(fake!.port)], protocolVersion: 5 });
        await engine.call("connect", d);
        const q = (await fake!.waitFor((x) => x.packet.cmd === "connect" && x.packet.clientId === d, 5000, "second CONNECT")).packet;
        assert.deepEqual(q.properties, { receiveMaximum: 32 }, "Receive Maximum is always ours to announce; nothing else by default");
      });

      it("refuses 5.0 options on a 3.1.1 client", async () => {
        const r = (await engine.call("create", uid("c"), { clientId: "x", brokers: [local(fake!.port)], sessionExpiry: 10 }).catch((e: Error) => ({ failed: e.message }))) as any;
        assert.match(String(r?.failed), /protocolVersion 5/);
      });

      for (const [rc, name, permanent] of [
        [0x86, "Bad User Name or Password", true],
        [0x8a, "Banned", true],
        [0x88, "Server unavailable", false],
      ] as const) {
        it(`CONNACK 0x${rc.toString(16)}: a typed error naming it, and the ${permanent ? "longest" : "usual"} backoff`, async () => {
          fake!.connack = () => ({ returnCode: rc, properties: { reasonString: "see the admin" } });
          const c = uid("c");
          await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, reconnect: { min: 100, max: 1500, jitter: 0 } });
          await engine.call("connect", c);
          await fake!.until(() => fake!.of("connect").length >= 2, 5000, "a retry");
          const e = errors(c)[0];
          assert.equal(e.code, "ConnectionRefused");
          assert.equal(e.reasonCode, rc);
          assert.equal(e.reasonString, "see the admin");
          assert.match(e.message, new RegExp(`${name}.*see the admin`));
          const [a, b] = fake!.of("connect").map((r) => r.at);
          if (permanent) assert.ok(b - a >= 1400, `retried after ${b - a} ms, not the longest backoff`);
          else assert.ok(b - a < 1000, `retried after ${b - a} ms`);
          assert.equal(engine.log.of("connect", c).length, 0);
        });
      }

      it("a 3.1.1 CONNACK (return code 1) to a 5.0 CONNECT is a refusal in 3.1.1's words", async () => {
        fake!.connack = (conn) => (conn.sendRaw(Buffer.from("20020001", "hex")), null);
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5 });
        await engine.call("connect", c);
        const e = await engine.log.waitFor((x) => x.type === "error" && x.client === c, 5000, "the refusal");
        assert.equal(e.code, "ConnectionRefused");
        assert.equal(e.returnCode, 1);
        assert.equal(e.reasonCode, -1);
        assert.match(e.message, /unacceptable protocol version/);
      });

      it("binds the connection to the CONNACK's limits and keeps the Assigned Client Identifier", async () => {
        fake!.connack = () => ({
          returnCode: 0,
          properties: { receiveMaximum: 1, maximumQoS: 1, retainAvailable: false, maximumPacketSize: 100, serverKeepAlive: 7, assignedClientIdentifier: "srv-1", topicAliasMaximum: 5 },
        });
        fake!.ackPublishes = false;
        const c = uid("c");
        await engine.call("create", c, { clientId: "", brokers: [local(fake!.port)], protocolVersion: 5, reconnect: { min: 50, max: 50, jitter: 0 } });
        // queued before the limits are known: QoS 2, retained, too large; then one that is fine
        const early = [
          (await engine.call("publish", c, "xs5/q", { text: "two" }, { qos: 2 })) as any,
          (await engine.call("publish", c, "xs5/q", { text: "kept" }, { qos: 0, retain: true })) as any,
          (await engine.call("publish", c, "xs5/q", { size: 150 }, { qos: 1 })) as any,
          (await engine.call("publish", c, "xs5/q", { text: "fine" }, { qos: 1 })) as any,
        ];
        await engine.call("connect", c);
        await connected(c);
        await fake!.waitFor((r) => r.packet.cmd === "publish", 5000, "the fine one");
        const drops = engine.log.of("drop", c);
        assert.deepEqual(drops.map((d) => [d.reason, d.token]), early.slice(0, 3).map((r) => ["unsupported", r.token]));
        assert.deepEqual(errors(c).map((e) => e.code), ["NotSupported", "NotSupported", "NotSupported"]);
        const l = (await engine.call("server", c)) as any;
        assert.deepEqual(
          [l.receiveMaximum, l.maximumQoS, l.retainAvailable, l.maximumPacketSize, l.serverKeepAlive, l.assignedClientIdentifier, l.topicAliasMaximum],
          [1, 1, false, 100, 7, "srv-1", 5],
        );
        // and now refused at publish
        assert.equal(((await engine.call("publish", c, "xs5/q", { text: "x" }, { qos: 2 })) as any).error?.code, "NotSupported");
        assert.equal(((await engine.call("publish", c, "xs5/q", { text: "x" }, { qos: 0, retain: true })) as any).error?.code, "NotSupported");
        assert.equal(((await engine.call("publish", c, "xs5/q", { size: 150 }, { qos: 0 })) as any).error?.code, "PacketTooLarge");
        // Receive Maximum 1: the next QoS 1 message waits for the PUBACK of the first
        await engine.call("publish", c, "xs5/q", { text: "second" }, { qos: 1 });
        await sleep(100);
        const pubs = fake!.of("publish");
        assert.deepEqual(pubs.map((r) => r.packet.payload.toString()), ["fine"], "one in flight at once");
        assert.equal(pubs[0].packet.properties, undefined, "an empty property block");
        const conn = fake!.conns[0];
        conn.send({ cmd: "puback", messageId: pubs[0].packet.messageId });
        await fake!.until(() => fake!.of("publish").length === 2, 5000, "the second after the PUBACK");
        const st = (await engine.call("stats", c)) as any;
        assert.equal(st.refusedByBroker, 3);
        // the broker's keepalive in use: the next CONNECT sends ours and the assigned id
        fake!.dropAll();
        const again = await fake!.waitFor((r) => r.packet.cmd === "connect" && r.conn === 2, 5000, "a second CONNECT");
        assert.equal(again.packet.clientId, "srv-1");
        assert.equal(again.packet.keepalive, 60);
      });

      it("a session resumed under a smaller Receive Maximum: the resends go that many at a time, in order, newer messages behind them", async () => {
        // connection 1 allows 10 in flight, connection 2 resumes the session and allows 2
        fake!.connack = (conn) => ({ returnCode: 0, sessionPresent: conn.id > 1, properties: { receiveMaximum: conn.id > 1 ? 2 : 10 } });
        fake!.ackPublishes = false;
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, clean: false, sessionExpiry: 300, inflightWindow: 8, reconnect: { min: 50, max: 50, jitter: 0 } });
        await engine.call("connect", c);
        await connected(c);
        await engine.call("publishMany", c, "xs5/rm", "m", 0, 5, { qos: 1 });
        await fake!.until(() => fake!.of("publish", 1).length === 5, 5000, "5 in flight on connection 1");
        fake!.dropAll();
        await connected(c, 2);
        // newer ones, a QoS 1 and a QoS 0, wait behind the resends
        await engine.call("publish", c, "xs5/rm", { text: "n1" }, { qos: 1 });
        await engine.call("publish", c, "xs5/rm", { text: "n0" }, { qos: 0 });
        const on2 = () => fake!.of("publish", 2).map((r) => [r.packet.payload.toString(), r.packet.dup]);
        await fake!.until(() => on2().length === 2, 5000, "2 resends");
        await sleep(150);
        assert.deepEqual(on2(), [["m0", true], ["m1", true]], "no more than the Receive Maximum unanswered");
        const conn = fake!.conns[1];
        const ack = (payload: string) => conn.send({ cmd: "puback", messageId: fake!.of("publish", 2).find((r) => r.packet.payload.toString() === payload)!.packet.messageId });
        ack("m0");
        await fake!.until(() => on2().length === 3, 5000, "a third after a PUBACK");
        await sleep(100);
        assert.deepEqual(on2()[2], ["m2", true]);
        assert.equal(on2().length, 3);
        for (const m of ["m1", "m2", "m3", "m4"]) {
          await fake!.until(() => on2().some(([p]) => p === m), 5000, m);
          ack(m);
        }
        await fake!.until(() => on2().length === 7, 5000, "the newer ones after the resends");
        assert.deepEqual(on2(), [["m0", true], ["m1", true], ["m2", true], ["m3", true], ["m4", true], ["n1", false], ["n0", false]]);
        ack("n1");
        await engine.log.waitCount((e) => e.type === "delivered" && e.client === c, 7, 5000, "all 7 delivered");
        const st = (await engine.call("stats", c)) as any;
        assert.equal(st.resent, 5);
        assert.equal(st.protocolErrors, 0);
        assert.equal(st.inflight, 0);
      });

      it("a resumed session: the PUBCOMP of a message released on the earlier connection frees no quota on this one", async () => {
        fake!.connack = (conn) => ({ returnCode: 0, sessionPresent: conn.id > 1, properties: { receiveMaximum: 2 } });
        fake!.ackPublishes = false;
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, clean: false, sessionExpiry: 300, reconnect: { min: 50, max: 50, jitter: 0 } });
        await engine.call("connect", c);
        await connected(c);
        // connection 1: a QoS 2 message past its PUBREC (PUBREL sent, no PUBCOMP), then one QoS 1 message unanswered
        await engine.call("publish", c, "xs5/rel", { text: "r" }, { qos: 2 });
        const r = await fake!.waitFor((x) => x.packet.cmd === "publish" && x.packet.qos === 2, 5000, "the QoS 2 PUBLISH");
        fake!.conns[0].send({ cmd: "pubrec", messageId: r.packet.messageId });
        await fake!.waitFor((x) => x.packet.cmd === "pubrel", 5000, "PUBREL");
        await engine.call("publishMany", c, "xs5/rel", "m", 0, 3, { qos: 1 });
        await fake!.until(() => fake!.of("publish", 1).length === 2, 5000, "m0 (the quota of 2 is r's and m0's)");
        fake!.dropAll();
        await connected(c, 2);
        // connection 2: the PUBREL again, then the resend of m0 and m1 (2, the quota), then m2 waits
        await fake!.waitFor((x) => x.conn === 2 && x.packet.cmd === "pubrel", 5000, "PUBREL again");
        const on2 = () => fake!.of("publish", 2).map((x) => x.packet.payload.toString());
        await fake!.until(() => on2().length === 2, 5000, "2 on connection 2");
        assert.deepEqual(on2(), ["m0", "m1"]);
        fake!.conns[1].send({ cmd: "pubcomp", messageId: r.packet.messageId });
        await engine.log.waitFor((e) => e.type === "delivered" && e.client === c, 5000, "r delivered by its PUBCOMP");
        await sleep(150);
        assert.deepEqual(on2(), ["m0", "m1"], "m0 and m1 still hold the quota");
        const m0 = fake!.of("publish", 2)[0].packet.messageId;
        fake!.conns[1].send({ cmd: "puback", messageId: m0 });
        await fake!.until(() => on2().length === 3, 5000, "m2 after a PUBACK");
        assert.deepEqual(on2(), ["m0", "m1", "m2"]);
      });

      it("pings on the broker's Server Keep Alive, not ours", async () => {
        fake!.connack = () => ({ returnCode: 0, properties: { serverKeepAlive: 1 } });
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, keepalive: 60 });
        await engine.call("connect", c);
        await connected(c);
        const t = Date.now();
        await fake!.until(() => fake!.of("pingreq").length >= 2, 5000, "two PINGREQs");
        const [a, b] = fake!.of("pingreq").map((r) => r.at);
        assert.ok(a - t < 1500 && b - a > 700 && b - a < 1500, `PINGREQs at +${a - t} and +${b - t} ms, for a 1 s Server Keep Alive`);
        const connect = fake!.of("connect")[0].packet;
        assert.equal(connect.keepalive, 60, "we asked for ours");
      });

      it("a PUBACK or PUBREC with a failure reason ends that message: reported, counted, never resent", async () => {
        fake!.ackPublishes = false;
        fake!.onPacket = (conn, p) => {
          if (p.cmd !== "publish" || p.qos === 0) return;
          const refuse = p.payload.toString() === "no";
          if (p.qos === 1) conn.send({ cmd: "puback", messageId: p.messageId, reasonCode: refuse ? 0x87 : 0, properties: refuse ? { reasonString: "topic is read-only" } : undefined });
          else conn.send({ cmd: "pubrec", messageId: p.messageId, reasonCode: refuse ? 0x97 : 0 });
        };
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, reconnect: { min: 50, max: 50, jitter: 0 } });
        await engine.call("connect", c);
        await connected(c);
        const t1 = ((await engine.call("publish", c, "xs5/a", { text: "no" }, { qos: 1 })) as any).token;
        const t2 = ((await engine.call("publish", c, "xs5/a", { text: "yes" }, { qos: 1 })) as any).token;
        const t3 = ((await engine.call("publish", c, "xs5/a", { text: "no" }, { qos: 2 })) as any).token;
        await engine.log.waitCount((e) => e.type === "drop" && e.client === c, 2, 5000, "two refusals");
        await engine.log.waitFor((e) => e.type === "delivered" && e.client === c && e.token === t2, 5000, "the accepted one");
        assert.deepEqual(engine.log.of("drop", c).map((d) => [d.reason, d.token]), [["refused", t1], ["refused", t3]]);
        const errs = errors(c);
        assert.deepEqual(errs.map((e) => [e.code, e.reasonCode]), [["PublishRefused", 0x87], ["PublishRefused", 0x97]]);
        assert.equal(errs[0].reasonString, "topic is read-only");
        assert.match(errs[0].message, /Not authorized.*topic is read-only/);
        assert.match(errs[1].message, /Quota exceeded/);
        await sleep(100);
        assert.equal(fake!.of("pubrel").length, 0, "no PUBREL after a failed PUBREC (§4.3.3)");
        const st = (await engine.call("stats", c)) as any;
        assert.deepEqual([st.refusedByBroker, st.inflight, st.queued, st.connected], [2, 0, 0, true]);
        // a reconnect resends nothing
        fake!.dropAll();
        await connected(c, 2);
        await sleep(150);
        assert.equal(fake!.of("publish", 2).length, 0);
        assert.ok(engine.log.of("delivered", c).every((e) => e.token !== t1 && e.token !== t3));
      });

      it("reports SUBACK and UNSUBACK reason codes per filter, by name", async () => {
        fake!.suback = (p) => p.subscriptions.map((s: any) => (s.topic === "xs5/deny" ? 0x87 : s.topic === "xs5/+/wild" ? 0xa2 : 1));
        fake!.unsuback = () => [0x87];
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5 });
        for (const f of ["xs5/ok", "xs5/deny", "xs5/+/wild"]) await engine.call("subscribe", c, f, 1);
        await engine.call("connect", c);
        const acks = await engine.log.waitCount((e) => e.type === "suback" && e.client === c, 3, 5000, "3 SUBACK results");
        const by = Object.fromEntries(acks.map((a) => [a.filter, a]));
        assert.equal(by["xs5/ok"].granted, 1);
        assert.equal(by["xs5/ok"].code, null);
        assert.deepEqual([by["xs5/deny"].granted, by["xs5/deny"].code], [0x87, "SubscriptionRefused"]);
        assert.match(by["xs5/deny"].message, /Not authorized/);
        assert.deepEqual([by["xs5/+/wild"].granted, by["xs5/+/wild"].code], [0xa2, "SubscriptionRefused"]);
        assert.match(by["xs5/+/wild"].message, /Wildcard Subscriptions not supported/);
        assert.equal(((await engine.call("stats", c)) as any).subscriptionsRefused, 2);
        await engine.call("unsubscribe", c, "xs5/ok");
        const u = await engine.log.waitFor((e) => e.type === "unsuback" && e.client === c, 5000, "UNSUBACK");
        assert.equal(u.code, "SubscriptionRefused");
        assert.match(u.message, /Not authorized/);
      });

      it("sends no wildcard or shared subscription to a broker that announced it has none: each refused as 0xA2 or 0x9E, counted, the rest subscribed", async () => {
        fake!.connack = () => ({ returnCode: 0, properties: { wildcardSubscriptionAvailable: false, sharedSubscriptionAvailable: false } });
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5 });
        // one before the CONNACK, the others after it (sent at once)
        await engine.call("subscribe", c, "xs5/+/wild", 1);
        await engine.call("connect", c);
        await connected(c);
        for (const f of ["xs5/plain", "$share/g/xs5/s", "xs5/all/#"]) await engine.call("subscribe", c, f, 1);
        const acks = await engine.log.waitCount((e) => e.type === "suback" && e.client === c, 4, 5000, "4 subscribe results");
        const by = Object.fromEntries(acks.map((a) => [a.filter, a]));
        assert.deepEqual([by["xs5/plain"].granted, by["xs5/plain"].code], [1, null]);
        for (const [f, rc, name] of [["xs5/+/wild", 0xa2, /Wildcard Subscriptions not supported/], ["xs5/all/#", 0xa2, /Wildcard/], ["$share/g/xs5/s", 0x9e, /Shared Subscriptions not supported/]] as const) {
          assert.deepEqual([by[f].granted, by[f].code], [rc, "SubscriptionRefused"], f);
          assert.match(by[f].message, name);
          assert.match(by[f].message, /not sent/);
        }
        // only the plain filter reached the broker, and the connection stayed up
        const sent = fake!.of("subscribe").flatMap((r) => r.packet.subscriptions.map((x: any) => x.topic));
        assert.deepEqual(sent, ["xs5/plain"]);
        const st = (await engine.call("stats", c)) as any;
        assert.equal(st.subscriptionsRefused, 3);
        assert.equal(st.connectionLosses, 0);
        assert.equal(errors(c).filter((e) => e.code === "SubscriptionRefused").length, 3);
        assert.equal(engine.log.of("connect", c).length, 1);
      });

      it("a refusal's callback may subscribe: an explicit topic goes at once, another wildcard waits and is refused at the next send", async () => {
        fake!.connack = () => ({ returnCode: 0, properties: { wildcardSubscriptionAvailable: false } });
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5 });
        await engine.call("subscribeOr", c, "xs5/+/a", 1, ["xs5/1/a", "xs5/+/b"]);
        await engine.call("subscribe", c, "xs5/#", 1);
        // one that subscribes itself again when refused: once per send, not a recursion
        await engine.call("subscribeOr", c, "xs5/+/c", 1, ["xs5/+/c"]);
        await engine.call("connect", c);
        await connected(c);
        await engine.log.waitCount((e) => e.type === "suback" && e.client === c, 4, 5000, "3 refusals and the fallback's SUBACK");
        await engine.call("subscribe", c, "xs5/plain", 1); // the next send refuses the waiting wildcards
        const acks = await engine.log.waitCount((e) => e.type === "suback" && e.client === c, 7, 5000, "7 subscribe results");
        assert.equal(acks.filter((a) => a.filter === "xs5/+/c" && a.granted === 0xa2).length, 2, "refused at each send");
        const by = Object.fromEntries(acks.filter((a) => a.filter !== "xs5/+/c").map((a) => [a.filter, [a.granted, a.code]]));
        assert.deepEqual(by, {
          "xs5/+/a": [0xa2, "SubscriptionRefused"],
          "xs5/#": [0xa2, "SubscriptionRefused"],
          "xs5/1/a": [1, null],
          "xs5/+/b": [0xa2, "SubscriptionRefused"],
          "xs5/plain": [1, null],
        });
        assert.deepEqual(fake!.of("subscribe").flatMap((r) => r.packet.subscriptions.map((x: any) => x.topic)), ["xs5/1/a", "xs5/plain"], "no wildcard ever sent");
        const st = (await engine.call("stats", c)) as any;
        assert.equal(st.subscriptionsRefused, 5);
        assert.equal(st.connectionLosses, 0);
      });

      it("a PUBACK failure for a QoS 2 message before its PUBREC ends it and frees its slot", async () => {
        fake!.ackPublishes = false;
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5 });
        await engine.call("connect", c);
        await connected(c);
        const t = ((await engine.call("publish", c, "xs5/q2", { text: "two" }, { qos: 2 })) as any).token;
        const p = await fake!.waitFor((x) => x.packet.cmd === "publish", 5000, "PUBLISH");
        fake!.conns[0].send({ cmd: "puback", messageId: p.packet.messageId, reasonCode: 0x97 });
        const drop = await engine.log.waitFor((e) => e.type === "drop" && e.client === c, 5000, "the drop");
        assert.deepEqual([drop.reason, drop.token], ["refused", t]);
        const st = (await engine.call("stats", c)) as any;
        assert.deepEqual([st.refusedByBroker, st.inflight, st.queued, st.protocolErrors], [1, 0, 0, 0]);
      });

      it("surfaces a server DISCONNECT with its reason code and Reason String, then reconnects", async () => {
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, reconnect: { min: 50, max: 3000, jitter: 0 } });
        await engine.call("connect", c);
        await connected(c);
        fake!.conns[0].send({ cmd: "disconnect", reasonCode: 0x8b, properties: { reasonString: "maintenance" } });
        const sd = await engine.log.waitFor((e) => e.type === "serverDisconnect" && e.client === c, 5000, "serverDisconnect");
        assert.deepEqual([sd.reasonCode, sd.reasonString], [0x8b, "maintenance"]);
        const d = await engine.log.waitFor((e) => e.type === "disconnect" && e.client === c, 5000, "onDisconnect");
        assert.equal(d.code, "ServerDisconnect");
        assert.equal(d.reasonCode, 0x8b);
        assert.match(d.message, /Server shutting down.*maintenance/);
        await connected(c, 2);
        // "session taken over": the longest backoff, no tug of war with the other client
        const t = Date.now();
        fake!.conns[1].send({ cmd: "disconnect", reasonCode: 0x8e });
        await connected(c, 3);
        assert.ok(Date.now() - t >= 2800, `reconnected after ${Date.now() - t} ms`);
      });

      for (const [what, bytes, reason] of [
        ["an AUTH (enhanced authentication is not supported)", "f006 18 04 1500 0178", 0x82],
        ["a Topic Alias we never announced", "3009 0003782f79 03 230001", 0x94],
        ["a malformed property block", "3008000378 2f79 05 2300", 0x81],
      ] as const) {
        it(`answers ${what} with DISCONNECT 0x${reason.toString(16)} and reconnects`, async () => {
          const c = uid("c");
          await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, reconnect: { min: 50, max: 50, jitter: 0 } });
          await engine.call("connect", c);
          await connected(c);
          fake!.conns[0].sendRaw(Buffer.from(bytes.replace(/ /g, ""), "hex"));
          const d = await fake!.waitFor((r) => r.packet.cmd === "disconnect", 5000, "DISCONNECT");
          assert.equal(d.packet.reasonCode, reason);
          await connected(c, 2);
          assert.equal(((await engine.call("stats", c)) as any).protocolErrors, 1);
        });
      }

      it("outbound Topic Aliases: the topic first, then topic and alias, then the alias alone, up to the broker's maximum", async () => {
        fake!.connack = (conn) => ({ returnCode: 0, sessionPresent: conn.id > 1, properties: { topicAliasMaximum: 2 } });
        fake!.ackPublishes = false;
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, reconnect: { min: 50, max: 50, jitter: 0 } });
        await engine.call("connect", c);
        await connected(c);
        for (const t of ["a", "b", "c"]) await engine.call("publishMany", c, `xs5/t/${t}`, t, 0, 3, { qos: 0 });
        await fake!.until(() => fake!.of("publish").length === 9, 5000, "9 PUBLISHes");
        const seen = (r: any) => [r.packet.topic, r.packet.properties?.topicAlias ?? 0, r.packet.payload.toString()];
        assert.deepEqual(fake!.of("publish").map(seen), [
          ["xs5/t/a", 0, "a0"], ["xs5/t/a", 1, "a1"], ["", 1, "a2"],
          ["xs5/t/b", 0, "b0"], ["xs5/t/b", 2, "b1"], ["", 2, "b2"],
          // the broker allows 2: the third topic goes whole every time
          ["xs5/t/c", 0, "c0"], ["xs5/t/c", 0, "c1"], ["xs5/t/c", 0, "c2"],
        ]);
        // a QoS 1 message with its own properties under the alias: the alias goes beside them
        const t1 = ((await engine.call("publish", c, "xs5/t/a", { text: "q1" }, { qos: 1, properties: { userProperties: { k: "v" }, contentType: "text/plain" } })) as any).token;
        const p1 = await fake!.waitFor((r) => r.packet.cmd === "publish" && r.packet.qos === 1, 5000, "the QoS 1 one");
        assert.deepEqual(seen(p1), ["", 1, "q1"]);
        assert.deepEqual(JSON.parse(JSON.stringify(p1.packet.properties)), { topicAlias: 1, userProperties: { k: "v" }, contentType: "text/plain" });
        // a new connection: aliases forgotten; the resend of the unacknowledged message carries its whole topic
        fake!.dropAll();
        await connected(c, 2);
        const again = await fake!.waitFor((r) => r.conn === 2 && r.packet.cmd === "publish", 5000, "the resend");
        assert.equal(again.packet.dup, true);
        assert.deepEqual(seen(again), ["xs5/t/a", 0, "q1"], "no alias from the old connection");
        assert.deepEqual(JSON.parse(JSON.stringify(again.packet.properties)), { userProperties: { k: "v" }, contentType: "text/plain" });
        fake!.conns[1].send({ cmd: "puback", messageId: again.packet.messageId });
        await engine.log.waitFor((e) => e.type === "delivered" && e.client === c && e.token === t1, 5000, "delivered");
        await engine.call("publishMany", c, "xs5/t/b", "n", 0, 3, { qos: 0 });
        await fake!.until(() => fake!.of("publish", 2).length === 4, 5000, "3 more");
        assert.deepEqual(fake!.of("publish", 2).slice(1).map(seen), [["xs5/t/b", 0, "n0"], ["xs5/t/b", 1, "n1"], ["", 1, "n2"]], "aliases counted afresh from 1");
        const st = (await engine.call("stats", c)) as any;
        assert.equal(st.protocolErrors, 0);
      });

      it("outbound Topic Aliases on the direct path (byte payloads): made per connection, none where the next broker allows none", async () => {
        // connection 1 allows 2 aliases, connection 2 none, connection 3 two again
        fake!.connack = (conn) => ({ returnCode: 0, properties: conn.id === 2 ? {} : { topicAliasMaximum: 2 } });
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, reconnect: { min: 50, max: 50, jitter: 0 } });
        await engine.call("connect", c);
        const seen = (r: any) => [r.packet.topic, r.packet.properties?.topicAlias ?? 0, r.packet.payload.toString("hex")];
        // payloads of 1 and 2 bytes in turn: the head is made again for each length, with the topic or under the alias
        const send = async (conn: number, hexes: string[]) => {
          await connected(c, conn);
          for (const hex of hexes) await engine.call("publish", c, "xs5/direct", { hex }, { qos: 0 });
          await fake!.until(() => fake!.of("publish", conn).length === hexes.length, 5000, `${hexes.length} PUBLISHes on connection ${conn}`);
          return fake!.of("publish", conn).map(seen);
        };
        const hexes = ["01", "0202", "03", "0404", "05"];
        assert.deepEqual(await send(1, hexes), [["xs5/direct", 0, "01"], ["xs5/direct", 1, "0202"], ["", 1, "03"], ["", 1, "0404"], ["", 1, "05"]]);
        fake!.dropAll();
        assert.deepEqual(await send(2, hexes), hexes.map((h) => ["xs5/direct", 0, h]), "no alias, no short head, where the broker allows none");
        fake!.dropAll();
        assert.deepEqual(await send(3, hexes), [["xs5/direct", 0, "01"], ["xs5/direct", 1, "0202"], ["", 1, "03"], ["", 1, "0404"], ["", 1, "05"]], "aliases made afresh");
        const st = (await engine.call("stats", c)) as any;
        assert.equal(st.protocolErrors, 0);
        assert.equal(st.published, 15);
      });

      it("no aliases when the broker announces none, nor when topicAliases is 0", async () => {
        fake!.connack = (conn, p) => ({ returnCode: 0, properties: p.clientId.endsWith("-off") ? { topicAliasMaximum: 5 } : {} });
        for (const [c, opts] of [[uid("c"), {}], [uid("c") + "-off", { topicAliases: 0 }]] as const) {
          await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, ...opts });
          await engine.call("connect", c);
          await connected(c);
          await engine.call("publishMany", c, "xs5/none", "m", 0, 4, { qos: 0 });
          await engine.call("publishMany", c, "xs5/none", "q", 0, 2, { qos: 1 });
        }
        await fake!.until(() => fake!.of("publish").length === 12, 5000, "12 PUBLISHes");
        assert.ok(fake!.of("publish").every((r) => r.packet.topic === "xs5/none" && r.packet.properties?.topicAlias === undefined));
      });

      it("inbound Topic Aliases: a table of the size announced, remapped, forgotten per connection; unknown 0x82, too large 0x94", async () => {
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, inboundTopicAliases: 2, reconnect: { min: 50, max: 50, jitter: 0 } });
        await engine.call("subscribe", c, "xs5/in/a", 1, true);
        await engine.call("subscribe", c, "xs5/in/+", 1);
        await engine.call("connect", c);
        await engine.log.waitCount((e) => e.type === "suback" && e.client === c, 2, 5000, "SUBACKs");
        const connect = fake!.of("connect")[0].packet;
        assert.equal(connect.properties.topicAliasMaximum, 2, "announced in CONNECT");
        const send = (conn: number, topic: string, alias: number, payload: string, qos = 0) =>
          fake!.conns[conn - 1].send({ cmd: "publish", topic, payload: Buffer.from(payload), qos, messageId: qos ? 7 : undefined, properties: { topicAlias: alias } });
        send(1, "xs5/in/a", 1, "1");
        send(1, "", 1, "2");
        send(1, "xs5/in/b", 2, "3", 1);
        send(1, "", 2, "4");
        send(1, "xs5/in/c", 1, "5"); // alias 1 now names c
        send(1, "", 1, "6");
        const msgs = await engine.log.waitCount((e) => e.type === "message" && e.client === c, 6, 5000, "6 messages");
        assert.deepEqual(msgs.map((m) => [m.topic, text(m.payload)]), [["xs5/in/a", "1"], ["xs5/in/a", "2"], ["xs5/in/b", "3"], ["xs5/in/b", "4"], ["xs5/in/c", "5"], ["xs5/in/c", "6"]]);
        const handled = engine.log.of("handler", c).map((m) => [m.topic, text(m.payload)]);
        assert.deepEqual(handled, [["xs5/in/a", "1"], ["xs5/in/a", "2"]], "dispatched by the topic the alias names");
        assert.equal((await fake!.waitFor((r) => r.packet.cmd === "puback", 5000, "PUBACK")).packet.messageId, 7);
        // a new connection: alias 1 names nothing yet
        fake!.dropAll();
        await connected(c, 2);
        send(2, "", 1, "7", 1);
        const d = await fake!.waitFor((r) => r.conn === 2 && r.packet.cmd === "disconnect", 5000, "DISCONNECT");
        assert.equal(d.packet.reasonCode, 0x82);
        await connected(c, 3);
        send(3, "xs5/in/a", 3, "8");
        const d3 = await fake!.waitFor((r) => r.conn === 3 && r.packet.cmd === "disconnect", 5000, "DISCONNECT");
        assert.equal(d3.packet.reasonCode, 0x94, "above the maximum we announced");
        await connected(c, 4);
        send(4, "xs5/in/b", 1, "9");
        await engine.log.waitCount((e) => e.type === "message" && e.client === c, 7, 5000, "usable after");
        const st = (await engine.call("stats", c)) as any;
        assert.equal(st.protocolErrors, 2);
        assert.ok(st.droppedInbound >= 1, "the message under an unknown alias counted as dropped");
        assert.equal(engine.log.of("message", c).length, 7, "neither bad one delivered");
      });

      it("drops a queued message whose Message Expiry Interval ran out before it could be sent, and counts it", async () => {
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5 });
        const gone = ((await engine.call("publish", c, "xs5/x", { text: "stale" }, { qos: 1, properties: { messageExpiryInterval: 1 } })) as any).token;
        const kept = ((await engine.call("publish", c, "xs5/x", { text: "fresh" }, { qos: 1, properties: { messageExpiryInterval: 60 } })) as any).token;
        const plain = ((await engine.call("publish", c, "xs5/x", { text: "plain" }, { qos: 0 })) as any).token;
        await sleep(1200);
        await engine.call("connect", c);
        await fake!.until(() => fake!.of("publish").length === 2, 5000, "2 PUBLISHes");
        await sleep(50);
        const pubs = fake!.of("publish").map((r) => r.packet);
        assert.deepEqual(pubs.map((p) => p.payload.toString()), ["fresh", "plain"]);
        const left = pubs[0].properties.messageExpiryInterval;
        assert.ok(left >= 58 && left <= 59, `the expiry sent is what is left of it (${left} s)`);
        assert.deepEqual(engine.log.of("drop", c).map((d) => [d.reason, d.token]), [["expired", gone]]);
        await engine.log.waitCount((e) => e.type === "delivered" && e.client === c, 2, 5000, "two delivered");
        assert.deepEqual(engine.log.of("delivered", c).map((d) => d.token).sort(), [kept, plain].sort(), "the others delivered, the expired one not");
        const st = (await engine.call("stats", c)) as any;
        assert.deepEqual([st.expired, st.queued, st.inflight], [1, 0, 0]);
      });

      it("a reconnect that finds no session sends what was in flight again as new publications, counted", async () => {
        fake!.ackPublishes = false;
        fake!.connack = () => ({ returnCode: 0, sessionPresent: false });
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, clean: false, sessionExpiry: 60, reconnect: { min: 50, max: 50, jitter: 0 } });
        await engine.call("connect", c);
        await connected(c);
        const r = (await engine.call("publishMany", c, "xs5/r", "m", 0, 3, { qos: 1 })) as any;
        await fake!.until(() => fake!.of("publish", 1).length === 3, 5000, "3 sent");
        fake!.dropAll();
        await connected(c, 2);
        await fake!.until(() => fake!.of("publish", 2).length === 3, 5000, "3 again");
        const again = fake!.of("publish", 2).map((x) => x.packet);
        assert.deepEqual(again.map((p) => [p.payload.toString(), p.dup]), [["m0", false], ["m1", false], ["m2", false]], "new publications: DUP 0 (§4.4)");
        for (const p of again) fake!.conns[1].send({ cmd: "puback", messageId: p.messageId });
        const d = await engine.log.waitCount((e) => e.type === "delivered" && e.client === c, 3, 5000, "3 delivered");
        assert.deepEqual(d.map((e) => e.token), r.tokens);
        const st = (await engine.call("stats", c)) as any;
        assert.deepEqual([st.republished, st.inflight, st.queued], [3, 0, 0]);
        assert.equal(engine.log.of("drop", c).length, 0, "none lost");
      });

      it("Subscription Identifiers: one per filter, one SUBSCRIBE each; a message is routed by them, without a topic match", async () => {
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5 });
        await engine.call("subscribe", c, "xs5/a/#", 1, true);
        await engine.call("subscribe", c, "xs5/b/+", 1, true);
        await engine.call("connect", c);
        await engine.log.waitCount((e) => e.type === "suback" && e.client === c, 2, 5000, "2 SUBACKs");
        const subs = fake!.of("subscribe").map((r) => r.packet);
        assert.deepEqual(subs.map((p) => [p.subscriptions.map((s: any) => s.topic), p.properties?.subscriptionIdentifier]), [[["xs5/a/#"], 1], [["xs5/b/+"], 2]]);
        const send = (topic: string, sid: number | number[], payload: string) =>
          fake!.conns[0].send({ cmd: "publish", topic, payload: Buffer.from(payload), qos: 0, properties: { subscriptionIdentifier: sid } });
        send("elsewhere/t", 2, "by-id"); // the broker says it is for xs5/b/+: the client takes its word
        send("xs5/a/b/x", [1, 2], "both");
        send("xs5/a/1", 9, "unknown id"); // names none of ours: matched by topic
        await engine.log.waitCount((e) => e.type === "message" && e.client === c, 3, 5000, "3 messages");
        await sleep(50);
        assert.deepEqual(engine.log.of("handler", c).map((m) => [m.filter, text(m.payload)]), [
          ["xs5/b/+", "by-id"],
          ["xs5/a/#", "both"],
          ["xs5/b/+", "both"],
          ["xs5/a/#", "unknown id"],
        ]);
        // an identifier is freed with its filter and given to the next one
        await engine.call("unsubscribe", c, "xs5/a/#");
        await engine.log.waitFor((e) => e.type === "unsuback" && e.client === c, 5000, "UNSUBACK");
        await engine.call("subscribe", c, "xs5/c", 0, true);
        const s3 = await fake!.waitFor((r) => r.packet.cmd === "subscribe" && r.packet.subscriptions[0].topic === "xs5/c", 5000, "the third SUBSCRIBE");
        assert.equal(s3.packet.properties.subscriptionIdentifier, 1);
        await engine.log.waitFor((e) => e.type === "suback" && e.client === c && e.filter === "xs5/c", 5000, "SUBACK");
        send("xs5/c", 1, "reused");
        await engine.log.waitFor((e) => e.type === "handler" && e.client === c && text(e.payload) === "reused", 5000, "routed to the new filter");
        assert.equal(engine.log.of("handler", c).filter((m) => m.filter === "xs5/a/#").length, 2, "not to the old one");
      });

      it("no Subscription Identifiers where the broker has none, nor with subscriptionIdentifiers: false", async () => {
        fake!.connack = (conn, p) => ({ returnCode: 0, properties: p.clientId.endsWith("-off") ? {} : { subscriptionIdentifiersAvailable: false } });
        for (const [c, opts] of [[uid("c"), {}], [uid("c") + "-off", { subscriptionIdentifiers: false }]] as const) {
          await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, ...opts });
          await engine.call("subscribe", c, "xs5/a/#", 1, true);
          await engine.call("subscribe", c, "xs5/b/+", 1, true);
          await engine.call("connect", c);
          await engine.log.waitCount((e) => e.type === "suback" && e.client === c, 2, 5000, "2 SUBACKs");
        }
        const subs = fake!.of("subscribe").map((r) => r.packet);
        assert.deepEqual(subs.map((p) => [p.subscriptions.length, p.properties?.subscriptionIdentifier]), [[2, undefined], [2, undefined]], "one SUBSCRIBE for both, no identifier");
      });

      it("a PUBLISH above the Maximum Packet Size we announced: not delivered, DISCONNECT 0x95, counted, then usable", async () => {
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5, maxInboundPacketSize: 64, reconnect: { min: 50, max: 50, jitter: 0 } });
        await engine.call("connect", c);
        await connected(c);
        assert.equal(fake!.of("connect")[0].packet.properties.maximumPacketSize, 64);
        fake!.conns[0].send({ cmd: "publish", topic: "xs5/big", payload: Buffer.alloc(70), qos: 1, messageId: 3 });
        const d = await fake!.waitFor((r) => r.packet.cmd === "disconnect", 5000, "DISCONNECT");
        assert.equal(d.packet.reasonCode, 0x95);
        await connected(c, 2);
        fake!.conns[1].send({ cmd: "publish", topic: "xs5/ok", payload: Buffer.alloc(40), qos: 0 });
        const m = await engine.log.waitFor((e) => e.type === "message" && e.client === c, 5000, "the one that fits");
        assert.equal(m.topic, "xs5/ok");
        assert.equal(engine.log.of("message", c).length, 1);
        assert.equal(fake!.of("puback").length, 0, "the large one not acknowledged: the broker sends it again or drops it");
        const st = (await engine.call("stats", c)) as any;
        assert.deepEqual([st.protocolErrors, st.droppedInbound], [1, 1]);
      });

      it("a PUBREL for an id we hold no message for is answered PUBCOMP 0x92; one we hold, 0", async () => {
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5 });
        await engine.call("subscribe", c, "xs5/q2", 2);
        await engine.call("connect", c);
        await engine.log.waitFor((e) => e.type === "suback" && e.client === c, 5000, "SUBACK");
        const conn = fake!.conns[0];
        conn.send({ cmd: "pubrel", messageId: 99 });
        conn.send({ cmd: "publish", topic: "xs5/q2", payload: Buffer.from("x"), qos: 2, messageId: 5 });
        await fake!.waitFor((r) => r.packet.cmd === "pubrec", 5000, "PUBREC");
        conn.send({ cmd: "pubrel", messageId: 5 });
        await fake!.until(() => fake!.of("pubcomp").length === 2, 5000, "2 PUBCOMPs");
        assert.deepEqual(fake!.of("pubcomp").map((r) => [r.packet.messageId, r.packet.reasonCode ?? 0]), [[99, 0x92], [5, 0]]);
        assert.equal(((await engine.call("stats", c)) as any).connected, true);
      });

      it("delivers a message's user properties as the broker sent them", async () => {
        const c = uid("c");
        await engine.call("create", c, { clientId: c, brokers: [local(fake!.port)], protocolVersion: 5 });
        await engine.call("subscribe", c, "xs5/#", 0);
        await engine.call("connect", c);
        await engine.log.waitFor((e) => e.type === "suback" && e.client === c, 5000, "SUBACK");
        fake!.conns[0].send({ cmd: "publish", topic: "xs5/u", payload: Buffer.from("v"), qos: 0, properties: { userProperties: { a: "1", b: ["2", "3"] } } });
        const m = await engine.log.waitFor((e) => e.type === "message" && e.client === c, 5000, "the message");
        assert.deepEqual(m.properties, { userProperties: { a: "1", b: ["2", "3"] } });
      });
    });
  });
}
