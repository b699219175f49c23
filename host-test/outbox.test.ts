/**
 * The outbox against a model, on Node and inside XS: arbitrary interleavings of publish,
 * send, PUBACK (in any order), drop-oldest and reconnect (rewind). Checked: messages go
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
  { weight: 5, arbitrary: fc.record({ op: fc.constant("publish" as const), size: fc.integer({ min: 4, max: 120 }), qos: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 5, arbitrary: fc.constant({ op: "send" as const }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("ack" as const), nth: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.constant({ op: "ackUnknown" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "drop" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "rewind" as const }) },
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
function check(capacity: number, window: number, ops: Op[], run: { obs: Observation[]; count: number; inflight: number }): void {
  const ring: Entry[] = []; // oldest first, finished ones included until reclaimed
  let cursor = 0; // index in `ring` where the next send search starts
  let k = 0;
  let orphans: number[] = []; // ids of messages dropped while in flight: they keep their slot until PUBACK or rewind
  const used = () => ring.reduce((n, e) => n + e.size + 12, 0);
  const inflight = () => ring.filter((e) => !e.done && e.sent && e.qos > 0).length + orphans.length;
  const live = () => ring.filter((e) => !e.done).length;
  const finish = (e: Entry) => {
    e.done = true;
    while (ring.length > 0 && ring[0].done) {
      ring.shift();
      cursor = Math.max(0, cursor - 1);
    }
  };
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
      // next: the oldest entry from the cursor that is not finished; new QoS 1 only with a free slot
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
        assert.ok(!ring.some((x) => !x.done && x.sent && x.qos > 0 && x.id === ob.id) && !orphans.includes(ob.id), "id already in flight");
        e.id = ob.id;
      }
      e.sent = true;
      cursor = i + 1;
      if (e.qos === 0) finish(e);
      assert.ok(inflight() <= window, "window exceeded");
    } else if (o.op === "ack") {
      if (inflight() === 0) continue;
      const ob = run.obs[k++] as Extract<Observation, { op: "ack" }>;
      if (orphans.includes(ob.id)) {
        assert.equal(ob.token, -2, "the PUBACK of a dropped message frees its slot only");
        orphans = orphans.filter((id) => id !== ob.id);
        continue;
      }
      const e = ring.find((x) => !x.done && x.sent && x.qos > 0 && x.id === ob.id);
      assert.ok(e, `acked id ${ob.id} is not in flight`);
      assert.equal(ob.token, e.token, "PUBACK returns its own message");
      finish(e);
    } else if (o.op === "ackUnknown") {
      const ob = run.obs[k++] as Extract<Observation, { op: "ack" }>;
      assert.equal(ob.token, -1);
    } else if (o.op === "drop") {
      if (live() === 0) continue;
      const ob = run.obs[k++] as Extract<Observation, { op: "drop" }>;
      assert.equal(ob.token, ring[0].token, "drops the oldest");
      if (ring[0].sent && ring[0].qos > 0) orphans.push(ring[0].id);
      finish(ring[0]);
    } else {
      k++;
      cursor = 0;
      orphans = [];
    }
  }
  assert.equal(k, run.obs.length, "every observation explained");
  assert.equal(run.count, live());
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
  });
}
