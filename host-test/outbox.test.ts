/**
 * The outbox against a model, on Node and inside XS: arbitrary interleavings of QoS 0, 1
 * and 2 publishes, sends, PUBACK/PUBREC/PUBCOMP (in any order, at the wrong QoS, again,
 * for unknown ids), drop-oldest and reconnects with and without a session (rewind). Also
 * checked for QoS 2: the PUBREC frees the PUBLISH (never sent again), the id stays in the
 * window until PUBCOMP, and the PUBRELs to resend come in PUBREC order. Checked: messages go
 * out oldest first; a message dropped while in flight keeps its window slot until its
 * PUBACK or the reconnect; after a rewind every unacknowledged QoS 1 message goes again, with its
 * packet id, before anything newer; a PUBACK returns its own message; the window is never
 * exceeded; packets are never overwritten while held; drops take the oldest; and a ring
 * that is less than half full never refuses a message.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import * as ops from "./outbox/ops.js";
import type { Op, Observation } from "./outbox/ops.js";
import { ENGINES, openEngine, type Engine } from "./engines.js";

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant("publish" as const), size: fc.integer({ min: 4, max: 120 }), qos: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 5, arbitrary: fc.constant({ op: "send" as const }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("ack" as const), nth: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("wrongAck" as const), nth: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("pubrecAgain" as const), nth: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.constant({ op: "ackUnknown" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "drop" as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("rewind" as const), present: fc.boolean() }) },
);

/** Mostly QoS 2, PUBRECs in any order, reconnects into a kept session: the PUBREL order after a rewind. */
const qos2Arb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant("publish" as const), size: fc.integer({ min: 4, max: 60 }), qos: fc.constantFrom(1, 2, 2, 2) }) },
  { weight: 4, arbitrary: fc.constant({ op: "send" as const }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("rec" as const), nth: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("ack" as const), nth: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.constant({ op: "drop" as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("rewind" as const), present: fc.constantFrom(true, true, true, false) }) },
);

interface Entry {
  token: number;
  qos: number;
  size: number;
  sent: boolean;
  id: number;
  /** Finished (QoS 0 written, QoS 1 acknowledged, dropped); its bytes stay until everything older is finished too. */
  done: boolean;
}

/** Replays the observations against a model; throws on the first disagreement. */
interface Orphan {
  id: number;
}
interface Released {
  id: number;
  /** Its token, or -2 for a message dropped before its PUBREC. */
  token: number;
  rec: number;
}

/** Replays the observations against a model; throws on the first disagreement. */
function check(capacity: number, window: number, ops: Op[], run: { obs: Observation[]; count: number; inflight: number }): void {
  const ring: Entry[] = []; // oldest first, finished ones included until reclaimed
  let cursor = 0; // index in `ring` where the next send search starts
  let k = 0;
  let orphans: Orphan[] = []; // messages dropped while in flight, before any PUBREC: they keep their slot until an ack or rewind
  let released: Released[] = []; // QoS 2 past PUBREC: only the id, until PUBCOMP
  let recs = 0;
  const used = () => ring.reduce((n, e) => n + e.size + 12, 0);
  const inflight = () => ring.filter((e) => !e.done && e.sent && e.qos > 0).length + orphans.length + released.length;
  const live = () => ring.filter((e) => !e.done).length;
  const held = () => live() + released.filter((r) => r.token !== -2).length;
  const finish = (e: Entry) => {
    e.done = true;
    while (ring.length > 0 && ring[0].done) {
      ring.shift();
      cursor = Math.max(0, cursor - 1);
    }
  };
  const inRing = (id: number) => ring.find((x) => !x.done && x.sent && x.qos > 0 && x.id === id);
  for (const o of ops) {
    if (o.op === "publish") {
      const ob = run.obs[k++] as Extract<Observation, { op: "publish" }>;
      if (ob.full) {
        // reclaimed space is contiguous at most twice over; a ring less than half full always takes a message
        assert.ok(used() + o.size + 12 > capacity / 2, `refused with ${used()} of ${capacity} bytes in use`);
        continue;
      }
      ring.push({ token: ob.token, qos: o.qos, size: o.size, sent: false, id: 0, done: false });
    } else if (o.op === "send") {
      // next: the oldest entry from the cursor that is not finished; new QoS 1/2 only with a free slot
      let i = cursor;
      while (i < ring.length && ring[i].done) i++;
      const e = ring[i];
      if (!e || (!e.sent && e.qos > 0 && inflight() >= window)) {
        if (run.obs[k]?.op === "send") assert.fail(`sent token ${(run.obs[k] as { token: number }).token} when nothing could go`);
        continue;
      }
      const ob = run.obs[k++] as Extract<Observation, { op: "send" }>;
      assert.equal(ob.op, "send");
      assert.equal(ob.token, e.token, "oldest first");
      assert.equal(ob.resend, e.sent, "resend flag");
      assert.ok(ob.intact, `packet of token ${e.token} overwritten`);
      assert.equal(ob.size, e.size);
      if (e.sent) assert.equal(ob.id, e.id, "a resend keeps its packet id");
      else if (e.qos > 0) {
        assert.ok(ob.id >= 1 && ob.id <= 65535);
        const taken = inRing(ob.id) || orphans.some((x) => x.id === ob.id) || released.some((x) => x.id === ob.id);
        assert.ok(!taken, "id already in flight");
        e.id = ob.id;
      }
      e.sent = true;
      cursor = i + 1;
      if (e.qos === 0) finish(e);
      assert.ok(inflight() <= window, "window exceeded");
    } else if (o.op === "ack" || o.op === "wrongAck" || o.op === "rec" || o.op === "pubrecAgain" || o.op === "ackUnknown") {
      const next = run.obs[k++];
      if (next.op === "skip") continue; // the runner had no id for it
      assert.equal(next.op, "ack");
      const ob = next as Extract<Observation, { op: "ack" }>;
      const e = inRing(ob.id);
      const orphan = orphans.find((x) => x.id === ob.id);
      const rel = released.find((x) => x.id === ob.id);
      if (ob.kind === "puback") {
        if (e && e.qos === 1) {
          assert.equal(ob.token, e.token, "PUBACK returns its own message");
          finish(e);
        } else if (e || rel) assert.equal(ob.token, -3, "a PUBACK for QoS 2 changes nothing");
        else if (orphan) {
          assert.equal(ob.token, -2, "the ack of a dropped message frees its slot only");
          orphans = orphans.filter((x) => x !== orphan);
        } else assert.equal(ob.token, -1, "PUBACK for an id not in flight");
      } else if (ob.kind === "pubrec") {
        if (rel) assert.equal(ob.token, 2, "PUBREC again: the PUBREL is due again");
        else if (e && e.qos === 1) assert.equal(ob.token, -3, "a PUBREC for QoS 1 changes nothing");
        else if (e) {
          assert.equal(ob.token, 1, "first PUBREC");
          released.push({ id: e.id, token: e.token, rec: ++recs });
          finish(e); // the PUBLISH's bytes are free; it is never sent again
        } else if (orphan) {
          assert.equal(ob.token, 1, "first PUBREC of a dropped message");
          orphans = orphans.filter((x) => x !== orphan);
          released.push({ id: orphan.id, token: -2, rec: ++recs });
        } else assert.equal(ob.token, -1, "PUBREC for an id not in flight");
      } else {
        if (rel) {
          assert.equal(ob.token, rel.token, "PUBCOMP returns its own message (-2 for a dropped one)");
          released = released.filter((x) => x !== rel);
        } else assert.equal(ob.token, -1, "PUBCOMP for an id not released");
      }
    } else if (o.op === "drop") {
      if (run.obs[k]?.op !== "drop") {
        assert.equal(live(), 0, "a drop asked for with messages in the ring");
        continue;
      }
      const ob = run.obs[k++] as Extract<Observation, { op: "drop" }>;
      assert.equal(ob.token, ring[0].token, "drops the oldest");
      if (ring[0].sent && ring[0].qos > 0) orphans.push({ id: ring[0].id });
      finish(ring[0]);
    } else {
      const ob = run.obs[k++] as Extract<Observation, { op: "rewind" }>;
      assert.equal(ob.op, "rewind");
      cursor = 0;
      orphans = [];
      const order = [...released].sort((a, b) => a.rec - b.rec);
      if (o.present) assert.deepEqual(ob.pubrels, order.map((r) => r.id), "PUBRELs in PUBREC order");
      else {
        assert.deepEqual([...ob.forgotten].sort((a, b) => a - b), order.map((r) => r.token).sort((a, b) => a - b), "released messages done without a session");
        released = [];
      }
    }
  }
  assert.equal(k, run.obs.length, "every observation explained");
  assert.equal(run.count, held());
  assert.equal(run.inflight, inflight());
}

for (const engineName of ENGINES) {
  describe(`outbox on ${engineName}`, () => {
    let engine: Engine;
    before(async () => {
      engine = await openEngine(engineName, ops, "outbox/xs-entry.js");
    });
    after(async () => engine?.close());

    it("agrees with the model over arbitrary interleavings", async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 200, max: 1200 }), fc.integer({ min: 1, max: 5 }), fc.array(opArb, { minLength: 50, maxLength: 300 }), async (capacity, window, seq) => {
          const run = await engine.call<ReturnType<typeof ops.runOutbox>>("runOutbox", capacity, window, seq);
          check(capacity, window, seq, run);
        }),
        { numRuns: engineName === "xs" ? 300 : 3000 },
      );
    });

    it("agrees with the model on QoS 2 flows: PUBRECs in any order, PUBRELs resent in that order", async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 300, max: 1200 }), fc.integer({ min: 2, max: 6 }), fc.array(qos2Arb, { minLength: 30, maxLength: 200 }), async (capacity, window, seq) => {
          const run = await engine.call<ReturnType<typeof ops.runOutbox>>("runOutbox", capacity, window, seq);
          check(capacity, window, seq, run);
        }),
        { numRuns: engineName === "xs" ? 200 : 2000 },
      );
    });
  });
}
