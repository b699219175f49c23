/**
 * Readings that survive a reboot: `npm start` (tools/start.js) with a device id and a
 * data folder, on both engines, against mosquitto. The broker goes away, the firmware
 * keeps sampling into its journal past the budget, and is SIGKILLed; the broker comes
 * back and the firmware is started again with the same id. Every reading taken before
 * the kill arrives or was counted as dropped, with its original payload; none that the
 * broker had acknowledged is sent again.
 *
 * The journal file is read here by a parser written from the format in journal.ts's
 * header (not by the journal), so the file format itself is under test.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { sleep, until } from "./wait.js";
import { startMosquitto, type Mosquitto } from "../tools/runtime/brokers.js";
import { requireMosquitto } from "./needs.js";
import { ENGINES } from "./engines.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const START = path.join(here, "..", "tools", "start.js");

/** CRC-32 (IEEE), bit by bit: independent of the journal's table. */
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

interface JournalFile {
  /** Readings the file still holds (no 'A' or 'D' after them), by sequence number: topic and payload. */
  held: Map<number, { topic: string; payload: string }>;
  acked: Set<number>;
  /** One more than the highest sequence number (or the head's next number). */
  taken: number;
  dropped: number;
  tornBytes: number;
}

/** Reads a journal file by its documented format. */
function readJournal(file: string): JournalFile {
  const b = fs.readFileSync(file);
  const out: JournalFile = { held: new Map(), acked: new Set(), taken: 0, dropped: 0, tornBytes: 0 };
  let at = 0;
  while (at + 12 <= b.length) {
    const type = String.fromCharCode(b[at]);
    const tl = b[at + 1];
    const pl = b.readUInt16BE(at + 2);
    const seq = b.readUInt32BE(at + 4);
    const n = 8 + tl + pl + 4;
    if (at + n > b.length || crc32(b.subarray(at, at + n - 4)) !== b.readUInt32BE(at + n - 4)) break;
    const topic = b.subarray(at + 8, at + 8 + tl).toString();
    const payload = b.subarray(at + 8 + tl, at + 8 + tl + pl);
    if (type === "H") {
      assert.equal(payload.subarray(0, 4).toString(), "XSJ1");
      out.taken = seq;
      out.dropped = payload.readUInt32BE(4);
    } else if (type === "R") {
      out.held.set(seq, { topic, payload: payload.toString() });
      out.taken = Math.max(out.taken, seq + 1);
    } else if (type === "A") {
      out.held.delete(seq);
      out.acked.add(seq);
    } else if (type === "D") {
      if (out.held.delete(seq)) out.dropped++;
    } else assert.fail(`unknown record type ${type} at ${at}`);
    at += n;
  }
  out.tornBytes = b.length - at;
  return out;
}

interface Firmware {
  child: ChildProcess;
  output: string[];
  exited: Promise<void>;
}

function startFirmware(engine: string, args: string[]): Firmware {
  const child = spawn(process.execPath, [START, "--engine", engine, ...args], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  const output: string[] = [];
  child.stdout!.on("data", (d) => output.push(String(d)));
  child.stderr!.on("data", (d) => output.push(String(d)));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return { child, output, exited };
}

interface Got {
  n: number;
  topic: string;
  payload: string;
  phase: number;
}

for (const engine of ENGINES) {
  describe(`readings survive a SIGKILL during a broker outage (npm start, ${engine})`, function () {
    this.timeout(90000);
    let mosq: Mosquitto | null = null;
    let data = "";
    const running: Firmware[] = [];

    before(function () {
      requireMosquitto(this);
    });
    beforeEach(() => {
      data = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-reboot-"));
    });
    afterEach(async () => {
      for (const f of running) {
        if (f.child.exitCode === null && f.child.signalCode === null) f.child.kill("SIGKILL");
        await f.exited;
      }
      running.length = 0;
      await mosq?.close();
      mosq = null;
      fs.rmSync(data, { recursive: true, force: true });
    });

    it("every reading taken before the kill arrives once the broker is back, with its original sample time, or is counted as dropped", async () => {
      mosq = await startMosquitto();
      const port = mosq.port;
      const id = `reboot-${engine}-${process.pid}`;
      const prefix = "rb";
      let phase = 1;
      const got: Got[] = [];
      const statuses: any[] = [];
      const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 200, clean: true });
      sub.on("message", (topic, payload) => {
        const text = payload.toString();
        if (topic.endsWith("/status")) return void (text && statuses.push(JSON.parse(text)));
        got.push({ n: JSON.parse(text).n, topic, payload: text, phase });
      });
      sub.on("connect", () => void sub.subscribe(`${prefix}/${id}/#`, { qos: 1 }));
      await sub.subscribeAsync(`${prefix}/${id}/#`, { qos: 1 });
      try {
        const args = ["--broker", `mqtt://127.0.0.1:${port}`, "--device-id", id, "--data", data, "--prefix", prefix, "--interval", "150", "--budget", "1600"];
        const first = startFirmware(engine, args);
        running.push(first);
        await until(() => got.length >= 6, 15000, "readings before the outage");

        // the broker goes away; the firmware samples on, past its budget
        await mosq.close();
        mosq = null;
        await sleep(2500);
        first.child.kill("SIGKILL");
        await first.exited;
        const atKill = readJournal(path.join(data, "readings.log"));
        assert.ok(atKill.held.size >= 5, `${atKill.held.size} readings held at the kill`);
        assert.ok(atKill.dropped > 0, "the outage went past the budget");
        // what the broker had before the kill: received then, and no longer held (the file may have been rewritten since, so its 'A' records are not all there)
        const acked = new Set(got.filter((g) => !atKill.held.has(g.n)).map((g) => g.n));
        assert.ok(acked.size >= 6, `${acked.size} readings acknowledged before the outage`);
        for (const n of atKill.acked) assert.ok(!atKill.held.has(n));

        // the broker comes back on its port; the same device boots again
        phase = 2;
        mosq = await startMosquitto({ port });
        await until(() => sub.connected, 10000, "the subscriber back");
        await sleep(300); // its subscription
        const second = startFirmware(engine, args);
        running.push(second);
        const received = () => new Set(got.map((g) => g.n));
        await until(() => [...atKill.held.keys()].every((n) => received().has(n)), 20000, "every reading held at the kill");

        // each held reading arrived with the payload it was taken with (its sample time)
        for (const [n, r] of atKill.held) {
          const g = got.find((x) => x.n === n)!;
          assert.equal(g.topic, r.topic);
          assert.equal(g.payload, r.payload, `reading ${n} unchanged`);
        }
        // received + dropped == taken, exactly, for everything taken before the kill
        const before = [...received()].filter((n) => n < atKill.taken);
        assert.equal(before.length + atKill.dropped, atKill.taken, `${before.length} received + ${atKill.dropped} dropped of ${atKill.taken} taken`);
        // acknowledged readings are not sent again after the reboot
        const resent = got.filter((g) => g.phase === 2 && acked.has(g.n));
        assert.deepEqual(
          resent.map((g) => g.n),
          [],
          "acknowledged readings sent again",
        );
        // sampling went on where it left off, and the status counts across the reboot
        await until(() => got.some((g) => g.n >= atKill.taken), 5000, "a new reading");
        await until(() => statuses.some((s) => s.state === "online" && s.taken >= atKill.taken), 5000, "a status after the reboot");
        const status = statuses.filter((s) => s.state === "online").pop();
        assert.ok(status.dropped >= atKill.dropped, `status dropped ${status.dropped} counts the ${atKill.dropped} before the reboot`);
        assert.ok(second.output.join("").includes("readings held from before the restart"), "the boot says what it recovered");
        second.child.kill("SIGTERM");
        await second.exited;
      } finally {
        await sub.endAsync(true);
      }
    });

    it("a restart while online sends nothing twice and goes on with its sequence numbers, writing no flash for acknowledged readings", async () => {
      mosq = await startMosquitto();
      const port = mosq.port;
      const id = `online-${engine}-${process.pid}`;
      let phase = 1;
      const got: Got[] = [];
      const statuses: any[] = [];
      const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
      sub.on("message", (topic, payload) => {
        const text = payload.toString();
        if (topic.endsWith("/status")) return void (text && statuses.push(JSON.parse(text)));
        got.push({ n: JSON.parse(text).n, topic, payload: text, phase });
      });
      await sub.subscribeAsync(`rb/${id}/#`, { qos: 1 });
      try {
        const args = ["--broker", `mqtt://127.0.0.1:${port}`, "--device-id", id, "--data", data, "--prefix", "rb", "--interval", "150"];
        const first = startFirmware(engine, args);
        running.push(first);
        await until(() => got.length >= 20, 15000, "20 readings");
        first.child.kill("SIGKILL");
        await first.exited;
        await sleep(300);
        const before = new Map(got.map((g) => [g.n, g.payload]));
        const last = Math.max(...before.keys());
        const file = readJournal(path.join(data, "readings.log"));
        // acknowledged within the grace, readings never reach the file: at most one sample in flight at the kill can be there
        assert.ok(file.held.size <= 2, `${file.held.size} readings on flash at the kill`);
        // (readings taken before the first CONNACK are written; with nothing held the file is rewritten to its head past 512 bytes)
        const size = fs.statSync(path.join(data, "readings.log")).size;
        assert.ok(size < 1024, `${size} bytes on flash after 20 readings online`);
        phase = 2;
        const second = startFirmware(engine, args);
        running.push(second);
        await until(() => got.filter((g) => g.phase === 2).length >= 10, 15000, "10 readings after the restart");
        const after = got.filter((g) => g.phase === 2);
        for (const g of after) {
          // a reading the broker had is never sent again; one held at the kill comes back unchanged
          if (before.has(g.n)) {
            assert.ok(file.held.has(g.n), `reading ${g.n} the broker had was sent again`);
            assert.equal(g.payload, before.get(g.n));
          }
        }
        const fresh = after.filter((g) => !before.has(g.n) && !file.held.has(g.n));
        assert.ok(fresh.length >= 8);
        assert.ok(
          fresh.every((g) => g.n > last),
          `new readings numbered after ${last}: ${fresh.map((g) => g.n).join(",")}`,
        );
        await until(() => statuses.some((s) => s.state === "online" && s.taken > last), 5000, "a status after the restart");
        second.child.kill("SIGTERM");
        await second.exited;
      } finally {
        await sub.endAsync(true);
      }
    });
  });
}
