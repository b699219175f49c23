/**
 * Runs a sequence of outbox operations and reports what the outbox did, so the suite can
 * check it against a model. Plain ECMAScript: the same file runs on Node and inside XS.
 */
import { NONE, Outbox } from "../../src/mqtt/outbox.js";

export type Op =
  | { op: "publish"; size: number; qos: number }
  | { op: "send" }
  /** The broker's next ack for the nth id in flight: PUBACK (QoS 1), PUBREC (QoS 2), PUBCOMP (QoS 2 released). */
  | { op: "ack"; nth: number }
  /** The ack of the other QoS for the nth id in flight: PUBREC for QoS 1, PUBACK for QoS 2. */
  | { op: "wrongAck"; nth: number }
  /** PUBREC for the nth QoS 2 id in flight not yet released. */
  | { op: "rec"; nth: number }
  /** PUBREC again for the nth id in flight, when it is released. */
  | { op: "pubrecAgain"; nth: number }
  | { op: "ackUnknown" }
  | { op: "drop" }
  | { op: "rewind"; present: boolean };

export type AckKind = "puback" | "pubrec" | "pubcomp";

export type Observation =
  | { op: "publish"; token: number; full: boolean; used: number }
  | { op: "send"; token: number; qos: number; resend: boolean; id: number; size: number; intact: boolean }
  | { op: "ack"; kind: AckKind; id: number; token: number }
  | { op: "drop"; token: number }
  /** An ack op with no id to ack. */
  | { op: "skip" }
  | { op: "rewind"; present: boolean; pubrels: number[]; forgotten: number[] };

interface Flight {
  id: number;
  qos: number;
  released: boolean;
}

/** Runs `ops` on a fresh outbox; packets are filled with their token's low byte to check they stay intact. */
export function runOutbox(capacity: number, window: number, ops: Op[]): { obs: Observation[]; count: number; inflight: number } {
  const box = new Outbox(capacity, window);
  const obs: Observation[] = [];
  const inflight: Flight[] = []; // ids in flight, oldest first
  let token = 0;
  let nextId = 0;
  for (const o of ops) {
    switch (o.op) {
      case "publish": {
        const at = box.reserve(o.size);
        if (at < 0) {
          obs.push({ op: "publish", token: 0, full: true, used: box.used });
          break;
        }
        token++;
        box.ring.fill(token & 0xff, at, at + o.size);
        box.ring[at] = 0x30 | (o.qos << 1); // a PUBLISH first byte, for the DUP bit
        box.commit(at, o.size, o.qos, token);
        obs.push({ op: "publish", token, full: false, used: box.used });
        break;
      }
      case "send": {
        const at = box.next();
        if (at < 0) break;
        const t = box.tokenAt(at);
        const resend = box.isResend(at);
        const qos = box.qosAt(at);
        let id = 0;
        if (resend) id = box.idAt(at);
        else if (qos > 0) {
          do nextId = nextId >= 65535 ? 1 : nextId + 1;
          while (box.holds(nextId));
          id = nextId;
          box.assign(at, id);
          inflight.push({ id, qos, released: false });
        }
        const size = box.sizeAt(at);
        let intact = true;
        for (let k = at + 1; k < at + size; k++) if (box.ring[k] !== (t & 0xff)) intact = false;
        box.written(at);
        obs.push({ op: "send", token: t, qos, resend, id, size, intact });
        break;
      }
      case "ack": {
        if (inflight.length === 0) {
          obs.push({ op: "skip" });
          break;
        }
        const k = o.nth % inflight.length;
        const f = inflight[k];
        if (f.qos === 1) {
          inflight.splice(k, 1);
          obs.push({ op: "ack", kind: "puback", id: f.id, token: box.ack(f.id) });
        } else if (!f.released) {
          f.released = true;
          obs.push({ op: "ack", kind: "pubrec", id: f.id, token: box.pubrec(f.id) });
        } else {
          inflight.splice(k, 1);
          obs.push({ op: "ack", kind: "pubcomp", id: f.id, token: box.pubcomp(f.id) });
        }
        break;
      }
      case "wrongAck": {
        if (inflight.length === 0) {
          obs.push({ op: "skip" });
          break;
        }
        const f = inflight[o.nth % inflight.length];
        if (f.qos === 1) obs.push({ op: "ack", kind: "pubrec", id: f.id, token: box.pubrec(f.id) });
        else obs.push({ op: "ack", kind: "puback", id: f.id, token: box.ack(f.id) });
        break;
      }
      case "rec": {
        const r = inflight.filter((f) => f.qos === 2 && !f.released);
        if (r.length === 0) {
          obs.push({ op: "skip" });
          break;
        }
        const f = r[o.nth % r.length];
        f.released = true;
        obs.push({ op: "ack", kind: "pubrec", id: f.id, token: box.pubrec(f.id) });
        break;
      }
      case "pubrecAgain": {
        const r = inflight.filter((f) => f.released);
        if (r.length === 0) {
          obs.push({ op: "skip" });
          break;
        }
        const f = r[o.nth % r.length];
        obs.push({ op: "ack", kind: "pubrec", id: f.id, token: box.pubrec(f.id) });
        break;
      }
      case "ackUnknown":
        obs.push({ op: "ack", kind: "puback", id: 0, token: box.ack(0) });
        break;
      case "drop": {
        // a dropped message already sent keeps its id in flight: its PUBACK may still come
        if (box.oldest() === NONE) break;
        obs.push({ op: "drop", token: box.dropOldest() });
        break;
      }
      case "rewind": {
        // ids of dropped messages are forgotten on reconnect; the rest stay in flight. With
        // the session kept, released ids are listed in PUBREC order; without, they are done.
        box.rewind();
        const pubrels: number[] = [];
        const forgotten: number[] = [];
        if (o.present) for (let n = 0, id = box.releasedId(0); id !== NONE; id = box.releasedId(++n)) pubrels.push(id);
        else for (let t = box.forgetReleased(); t !== NONE; t = box.forgetReleased()) forgotten.push(t);
        for (let k = inflight.length - 1; k >= 0; k--) if (!box.holds(inflight[k].id)) inflight.splice(k, 1);
        obs.push({ op: "rewind", present: o.present, pubrels, forgotten });
        break;
      }
    }
  }
  return { obs, count: box.count, inflight: box.inflightCount };
}
