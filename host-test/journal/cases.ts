/**
 * The readings journal's cases (src/app/journal.ts), in plain ECMAScript over src/ so the
 * same compiled file runs on Node and inside XS (journal.test.ts runs each on both): what
 * survives a reload, torn and corrupt last writes at every byte offset, the budget and its
 * drop count across reboots, rewrites, forwarding through a window, the grace, failing flash.
 * Each case throws on the first failed check.
 */
import type { Files, StoredFile } from "../../src/app/board.js";
import { ACKED, crc32, Journal, MARK_SIZE, MemoryFiles, READING, RECORD_HEAD } from "../../src/app/journal.js";
import type { MqttClient, PublishOptions } from "../../src/mqtt/client.js";
import { decodeUtf8, utf8Length, writeUtf8 } from "../../src/mqtt/utf8.js";

/** The checks the cases make (node:assert's names; messages name what failed). */
const assert = {
  ok(v: unknown, msg = "not true"): void {
    if (!v) throw new Error(msg);
  },
  equal(a: unknown, b: unknown, msg = ""): void {
    if (a !== b) throw new Error(`${msg ? msg + ": " : ""}${JSON.stringify(a)} !== ${JSON.stringify(b)}`);
  },
  deepEqual(a: unknown, b: unknown, msg = ""): void {
    const x = JSON.stringify(a);
    const y = JSON.stringify(b);
    if (x !== y) throw new Error(`${msg ? msg + ": " : ""}${x} differs from ${y}`);
  },
};
const enc = {
  encode(s: string): Uint8Array {
    const b = new Uint8Array(utf8Length(s));
    writeUtf8(b, 0, s);
    return b;
  },
};
const dec = { decode: (b: Uint8Array) => decodeUtf8(b, 0, b.length) };
const u32 = (b: Uint8Array, at: number) => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

/** The cases by title. */
export const CASES: { [title: string]: () => void } = {};

const TOPIC = "fw/dev/env";
const TOPIC_BYTES = enc.encode(TOPIC);
const payload = (n: number) => enc.encode(`{"t":${1700000000000 + n * 1000},"n":${n},"temperature":21.${n % 10}}`);

/** A client stand-in: records what it is given and reports deliveries when told. */
class FakeClient {
  connected = true;
  sent: { token: number; topic: string; payload: string; qos: number }[] = [];
  next = 1;
  /** Refuse publishes (a full outbox). */
  refuse = false;
  /** Report QoS 0 deliveries inside publish, as the real client does when it writes at once. */
  onDelivered: ((token: number) => void) | null = null;
  publish(topic: string, p: Uint8Array, o: PublishOptions): number {
    if (this.refuse) throw new Error("outbox full");
    const token = this.next++;
    this.sent.push({ token, topic, payload: dec.decode(p), qos: o.qos ?? 0 });
    if ((o.qos ?? 0) === 0) this.onDelivered?.(token);
    return token;
  }
}
const asClient = (c: FakeClient) => c as unknown as MqttClient;

function journal(files: Files, budget = 4096, extra: Partial<ConstructorParameters<typeof Journal>[1]> = {}): Journal {
  const j = new Journal(files, { budget, ...extra });
  j.setTopics([TOPIC], [TOPIC_BYTES]);
  return j;
}

/** The file's bytes (MemoryFiles). */
function bytesOf(files: Files, name = "readings.log"): Uint8Array {
  const f = files.open(name, false);
  if (!f) throw new Error(`${name} does not exist`);
  const b = new Uint8Array(f.size());
  f.read(b, 0);
  return b;
}

function filesWith(bytes: Uint8Array): MemoryFiles {
  const m = new MemoryFiles();
  const f = m.open("readings.log", true)!;
  f.write(bytes, 0);
  return m;
}

/** Held readings, forwarded to a fresh client: their payloads, oldest first. */
function heldPayloads(j: Journal): string[] {
  const c = new FakeClient();
  j.attach(asClient(c), { qos: 1 });
  j.forward();
  return c.sent.map((s) => s.payload);
}

  CASES["keeps readings across a reload until they are acknowledged, with their bytes and sequence numbers"] = () => {
    const files = new MemoryFiles();
    const j = journal(files, 4096, { window: 100 });
    for (let n = 0; n < 6; n++) assert.equal(j.take(TOPIC_BYTES, payload(n)), n);
    j.commit();
    const c = new FakeClient();
    j.attach(asClient(c), { qos: 1 });
    j.forward();
    assert.equal(c.sent.length, 6);
    assert.ok(j.delivered(c.sent[0].token));
    assert.ok(j.delivered(c.sent[1].token));
    j.commit();
    j.close();
    const again = journal(files, 4096, { window: 100 });
    assert.equal(again.stats.recovered, 4);
    assert.equal(again.nextSeq, 6, "sequence numbers go on");
    assert.deepEqual(heldPayloads(again), [2, 3, 4, 5].map((n) => dec.decode(payload(n))));
    assert.equal(again.take(TOPIC_BYTES, payload(6)), 6);
  };

  CASES["writes the documented format: each record checksummed with CRC-32 over its bytes"] = () => {
    const files = new MemoryFiles();
    const j = journal(files);
    j.take(TOPIC_BYTES, payload(0));
    j.commit();
    const b = bytesOf(files);
    const p = payload(0);
    assert.equal(b.length, RECORD_HEAD + TOPIC_BYTES.length + p.length + 4);
    assert.equal(b[0], READING);
    assert.equal(b[1], TOPIC_BYTES.length);
    assert.equal((b[2] << 8) | b[3], p.length);
    assert.deepEqual([...b.subarray(4, 8)], [0, 0, 0, 0]);
    assert.equal(dec.decode(b.subarray(8, 8 + TOPIC_BYTES.length)), TOPIC);
    const crc = u32(b, b.length - 4);
    assert.equal(crc, crc32(b, 0, b.length - 4));
    // zlib's CRC-32 of "123456789" is cbf43926
    assert.equal(crc32(enc.encode("123456789"), 0, 9), 0xcbf43926);
  };

  for (const last of ["reading", "acknowledgement"] as const) {
    CASES[`loads a file cut at every byte offset of its last record (a ${last}) without error, losing only that record`] = () => {
      const files = new MemoryFiles();
      const j = journal(files, 4096, { compactAt: 1 << 20 });
      const c = new FakeClient();
      j.attach(asClient(c), { qos: 1 });
      for (let n = 0; n < 5; n++) j.take(TOPIC_BYTES, payload(n));
      j.commit();
      j.forward();
      j.delivered(c.sent[0].token); // reading 0 acknowledged
      j.commit();
      let lastStart: number;
      if (last === "reading") {
        lastStart = bytesOf(files).length;
        j.take(TOPIC_BYTES, payload(5));
      } else {
        j.take(TOPIC_BYTES, payload(5));
        j.commit();
        lastStart = bytesOf(files).length;
        j.delivered(c.sent[1].token); // its last record: reading 1 acknowledged
      }
      j.commit();
      const whole = bytesOf(files);
      assert.ok(whole.length > lastStart);
      const wholeHeld = heldPayloads(journal(filesWith(whole)));
      for (let cut = lastStart; cut < whole.length; cut++) {
        const f = filesWith(whole.slice(0, cut));
        const r = journal(f);
        assert.equal(r.stats.tornBytes, cut - lastStart, `cut at ${cut}`);
        const held = heldPayloads(r);
        if (last === "reading") assert.deepEqual(held, wholeHeld.slice(0, -1), `cut at ${cut}: only the last reading is lost`);
        // losing the acknowledgement loses no reading: reading 1 is held again (sent twice, never lost)
        else assert.deepEqual(held, [dec.decode(payload(1)), ...wholeHeld], `cut at ${cut}`);
        // the torn tail is gone: what comes next is appended after the whole records, and reloads
        assert.equal(bytesOf(f).length, lastStart);
        r.take(TOPIC_BYTES, payload(9));
        r.commit();
        const reloaded = journal(f);
        assert.equal(reloaded.stats.tornBytes, 0);
        assert.equal(heldPayloads(reloaded).pop(), dec.decode(payload(9)));
      }
    };
  }

  CASES["treats a flipped bit anywhere in the last record as a torn write"] = () => {
    const files = new MemoryFiles();
    const j = journal(files);
    for (let n = 0; n < 3; n++) j.take(TOPIC_BYTES, payload(n));
    j.commit();
    const before = bytesOf(files).length;
    j.take(TOPIC_BYTES, payload(3));
    j.commit();
    const whole = bytesOf(files);
    for (let at = before; at < whole.length; at++) {
      const b = whole.slice();
      b[at] ^= 0x10;
      const r = journal(filesWith(b));
      assert.equal(r.stats.recovered, 3, `bit flipped at ${at}`);
      assert.equal(r.stats.tornBytes, whole.length - before);
    }
  };

  CASES["keeps its budget across reboots: drops the oldest, counts each drop once, and persists the count"] = () => {
    const files = new MemoryFiles();
    const size = RECORD_HEAD + TOPIC_BYTES.length + payload(10).length + 4;
    const j = journal(files, size * 5 + 10);
    for (let n = 10; n < 18; n++) j.take(TOPIC_BYTES, payload(n));
    j.commit();
    assert.equal(j.queued, 5);
    assert.equal(j.stats.dropped, 3);
    j.close();
    const again = journal(files, size * 5 + 10);
    assert.equal(again.stats.dropped, 3, "the count survives the reboot");
    assert.equal(again.queued, 5);
    assert.deepEqual(heldPayloads(again), [13, 14, 15, 16, 17].map((n) => dec.decode(payload(n))), "the newest five");
    again.close();
    // a smaller budget after the reboot: two more dropped, counted once, across another reboot
    const smaller = journal(files, size * 3 + 10);
    assert.equal(smaller.stats.dropped, 5);
    assert.equal(smaller.queued, 3);
    smaller.close();
    const last = journal(files, size * 3 + 10);
    assert.equal(last.stats.dropped, 5);
    assert.equal(last.nextSeq, 8);
    assert.deepEqual(heldPayloads(last), [15, 16, 17].map((n) => dec.decode(payload(n))));
  };

  CASES["counts a reading too big for the budget as dropped"] = () => {
    const j = journal(new MemoryFiles(), 40);
    assert.equal(j.take(TOPIC_BYTES, payload(1)), -1);
    assert.equal(j.stats.dropped, 1);
    assert.equal(j.stats.taken, 1);
  };

  CASES["rewrites the file when everything is acknowledged, and after a rewrite forwards the right bytes"] = () => {
    const files = new MemoryFiles();
    const j = journal(files, 2048, { compactAt: 1024, window: 4 });
    const c = new FakeClient();
    j.attach(asClient(c), { qos: 1 });
    let acked = 0;
    for (let n = 0; n < 200; n++) {
      j.take(TOPIC_BYTES, payload(n));
      j.commit();
      j.forward();
      // the broker is slow: every other turn, acknowledge the oldest in flight
      if (n % 2 === 1) while (acked < c.sent.length - 2 && j.delivered(c.sent[acked].token)) acked++;
      j.commit();
      assert.ok(bytesOf(files).length < 1024 + 200, `file stays bounded (${bytesOf(files).length} bytes at ${n})`);
    }
    assert.ok(j.stats.compactions > 5, `${j.stats.compactions} rewrites`);
    // every reading was forwarded once, in order, with its own bytes
    assert.deepEqual(
      c.sent.map((s) => JSON.parse(s.payload).n),
      c.sent.map((_, i) => i),
    );
    for (const s of c.sent) assert.equal(s.payload, dec.decode(payload(JSON.parse(s.payload).n)));
    // once all are acknowledged the file shrinks to its head
    for (const s of c.sent.slice(acked)) j.delivered(s.token);
    j.forward();
    for (const s of c.sent.slice(acked)) j.delivered(s.token);
    j.commit();
    assert.equal(j.queued, 0);
    assert.ok(bytesOf(files).length <= 512, `${bytesOf(files).length} bytes`);
    assert.equal(journal(files).nextSeq, 200);
  };

  CASES["forwards through a window, takes back what the client lets go of, and gives a new client what the old one held"] = () => {
    const j = journal(new MemoryFiles(), 8192, { window: 3 });
    for (let n = 0; n < 7; n++) j.take(TOPIC_BYTES, payload(n));
    const c = new FakeClient();
    j.attach(asClient(c), { qos: 1 });
    c.connected = false;
    j.forward();
    assert.equal(c.sent.length, 0, "nothing is given to a client that is not connected");
    c.connected = true;
    j.forward();
    assert.deepEqual(
      c.sent.map((s) => JSON.parse(s.payload).n),
      [0, 1, 2],
    );
    j.returned(c.sent[1].token); // dropped from the client's outbox
    j.delivered(c.sent[0].token);
    j.forward();
    assert.deepEqual(
      c.sent.map((s) => JSON.parse(s.payload).n),
      [0, 1, 2, 1, 3],
    );
    c.refuse = true;
    j.delivered(c.sent[2].token);
    j.forward();
    assert.equal(c.sent.length, 5, "a refusing client is left alone");
    const d = new FakeClient();
    j.attach(asClient(d), { qos: 2 });
    j.forward();
    assert.deepEqual(
      d.sent.map((s) => [JSON.parse(s.payload).n, s.qos]),
      [
        [1, 2],
        [3, 2],
        [4, 2],
      ],
    );
    assert.equal(j.delivered(c.sent[3].token), false, "the old client's tokens mean nothing now");
  };

  CASES["forward ends when the record table is full and every reading is with the client (it went round forever)"] = () => {
    const j = journal(new MemoryFiles(), 8192, { records: 16, window: 32 });
    for (let n = 0; n < 16; n++) j.take(TOPIC_BYTES, payload(n));
    assert.equal(j.queued, 16);
    const c = new FakeClient();
    j.attach(asClient(c), { qos: 1 });
    j.forward();
    assert.equal(c.sent.length, 16);
    j.forward(); // nothing waits, the table is full, the window is not: returns
    assert.equal(c.sent.length, 16);
    j.delivered(c.sent[0].token);
    j.forward();
    assert.equal(c.sent.length, 16, "an acknowledged reading is not sent again");
  };

  CASES["acknowledges a QoS 0 reading written inside publish, before its token is returned"] = () => {
    const j = journal(new MemoryFiles(), 8192, { window: 2 });
    const c = new FakeClient();
    c.onDelivered = (t) => j.delivered(t);
    j.attach(asClient(c), { qos: 0 });
    for (let n = 0; n < 5; n++) j.take(TOPIC_BYTES, payload(n));
    j.forward();
    assert.equal(c.sent.length, 5, "each delivery frees its place in the window at once");
    assert.equal(j.queued, 0);
  };

  CASES["keeps readings in RAM while flash refuses writes, and writes them when it works again"] = () => {
    const inner = new MemoryFiles();
    let failing = false;
    const flaky: Files = {
      open(name, create) {
        const f = inner.open(name, create);
        if (!f) return null;
        const wrapped: StoredFile = {
          ...f,
          size: () => f.size(),
          read: (b, p) => f.read(b, p),
          write(b, p) {
            if (failing) {
              f.write(b.subarray(0, b.length >> 1), p); // half a record, then the error
              throw new Error("flash write failed");
            }
            f.write(b, p);
          },
          truncate: (n) => f.truncate(n),
        };
        return wrapped;
      },
      remove: (n) => inner.remove(n),
      rename: (a, b) => inner.rename(a, b),
    };
    const j = journal(flaky);
    j.take(TOPIC_BYTES, payload(0));
    j.commit();
    failing = true;
    j.take(TOPIC_BYTES, payload(1));
    assert.equal(j.commit(), false);
    assert.equal(j.stats.writeErrors, 1);
    failing = false;
    j.take(TOPIC_BYTES, payload(2));
    assert.equal(j.commit(), true);
    const r = journal(inner);
    assert.equal(r.stats.tornBytes, 0, "the half record was cut off before the retry");
    assert.deepEqual(heldPayloads(r), [0, 1, 2].map((n) => dec.decode(payload(n))));
  };

  {
    const GRACE = "the grace: readings forwarded on a live connection wait in RAM for their acknowledgement: ";
    /** Timers run by hand. */
    function manualTimers() {
      const timers: { at: number; f: () => void }[] = [];
      return {
        make: (f: () => void) => {
          const t = { at: -1, f };
          timers.push(t);
          return { set: (ms: number) => void (t.at = ms), clear: () => void (t.at = -1) };
        },
        /** Runs every timer armed for `ms` or less (0 = the end of the turn). */
        run(ms: number) {
          for (const t of timers)
            if (t.at >= 0 && t.at <= ms) {
              t.at = -1;
              t.f();
            }
        },
      };
    }
    function graceJournal(files: Files, saved: { next: number }) {
      const timers = manualTimers();
      const j = new Journal(files, { budget: 8192, grace: 1000, sequence: { load: () => saved.next, save: (n) => void (saved.next = n) } }, timers.make);
      j.setTopics([TOPIC], [TOPIC_BYTES]);
      return { j, timers };
    }

    CASES[GRACE + "writes nothing for readings acknowledged within it, and keeps their sequence numbers in the setting"] = () => {
      const files = new MemoryFiles();
      const saved = { next: 0 };
      const { j, timers } = graceJournal(files, saved);
      const c = new FakeClient();
      j.attach(asClient(c), { qos: 1 });
      for (let n = 0; n < 20; n++) {
        j.take(TOPIC_BYTES, payload(n));
        j.commit();
        j.forward();
        j.delivered(c.sent[n].token);
        timers.run(0);
      }
      timers.run(1000);
      assert.equal(c.sent.length, 20);
      assert.equal(j.stats.unwritten, 20);
      assert.equal(j.stats.bytesWritten, 0, "no flash written");
      assert.equal(bytesOf(files).length, 0);
      assert.equal(saved.next, 20, "the sequence number is saved");
      // after a reboot the numbers go on
      assert.equal(graceJournal(files, saved).j.nextSeq, 20);
    };

    CASES[GRACE + "writes a reading not acknowledged within it, and every one in flight when the connection is lost"] = () => {
      const files = new MemoryFiles();
      const saved = { next: 0 };
      const { j, timers } = graceJournal(files, saved);
      const c = new FakeClient();
      j.attach(asClient(c), { qos: 1 });
      j.take(TOPIC_BYTES, payload(0));
      j.commit();
      j.forward();
      assert.equal(bytesOf(files).length, 0);
      timers.run(1000); // no PUBACK within the grace
      assert.deepEqual(heldPayloads(journal(files)), [dec.decode(payload(0))], "written once its grace is over");
      j.take(TOPIC_BYTES, payload(1));
      j.commit();
      j.forward();
      c.connected = false;
      j.persist(); // what the app does when the connection is lost
      assert.deepEqual(heldPayloads(journal(files)), [0, 1].map((n) => dec.decode(payload(n))));
      // its late acknowledgement is recorded, as for any written reading
      j.delivered(c.sent[1].token);
      timers.run(0);
      assert.deepEqual(heldPayloads(journal(files)), [dec.decode(payload(0))]);
      // taken while not connected: written before anything else
      j.take(TOPIC_BYTES, payload(2));
      j.commit();
      assert.deepEqual(heldPayloads(journal(files)), [0, 2].map((n) => dec.decode(payload(n))));
    };

    CASES[GRACE + "keeps taking readings when its RAM is full and flash refuses writes, without throwing"] = () => {
      const inner = new MemoryFiles();
      const refusing: Files = {
        open(name, create) {
          const f = inner.open(name, create);
          return f && { ...f, write: () => { throw new Error("flash write failed"); } };
        },
        remove: (n) => inner.remove(n),
        rename: (a, b) => inner.rename(a, b),
      };
      const saved = { next: 0 };
      const timers = manualTimers();
      const j = new Journal(refusing, { budget: 16384, grace: 1000, window: 1000, sequence: { load: () => saved.next, save: (n) => void (saved.next = n) } }, timers.make);
      j.setTopics([TOPIC], [TOPIC_BYTES]);
      const c = new FakeClient(); // never acknowledges
      j.attach(asClient(c), { qos: 1 });
      let accepted = 0;
      for (let n = 0; n < 100; n++) {
        if (j.take(TOPIC_BYTES, payload(n)) >= 0) accepted++;
        j.forward();
      }
      timers.run(1000);
      assert.ok(accepted >= 20, `${accepted} readings held in RAM`);
      assert.equal(accepted + j.stats.dropped, 100, "each one held or counted as dropped");
      assert.ok(j.stats.writeErrors > 0);
    };

    CASES[GRACE + "writes what is still in RAM when it stops"] = () => {
      const files = new MemoryFiles();
      const { j } = graceJournal(files, { next: 0 });
      const c = new FakeClient();
      j.attach(asClient(c), { qos: 1 });
      for (let n = 0; n < 3; n++) j.take(TOPIC_BYTES, payload(n));
      j.commit();
      j.forward();
      j.close();
      assert.equal(journal(files).stats.recovered, 3);
    };
  }

  CASES["spends one acknowledgement record of 12 bytes per delivered reading"] = () => {
    assert.equal(MARK_SIZE, 12);
    const files = new MemoryFiles();
    const j = journal(files, 4096, { compactAt: 1 << 20 });
    const c = new FakeClient();
    j.attach(asClient(c), { qos: 1 });
    j.take(TOPIC_BYTES, payload(0));
    j.forward();
    const before = bytesOf(files).length;
    j.delivered(c.sent[0].token);
    j.commit();
    const b = bytesOf(files);
    assert.equal(b.length - before, MARK_SIZE);
    assert.equal(b[before], ACKED);
  };
