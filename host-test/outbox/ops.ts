/**
 * Runs a sequence of outbox operations and reports what the outbox did, so the suite can
 * check it against a model. Plain ECMAScript: the same file runs on Node and inside XS.
 */
import { Outbox } from "../../src/mqtt/outbox.js";

export type Op =
  | { op: "publish"; size: number; qos: number }
  | { op: "send" }
  | { op: "ack"; nth: number }
  | { op: "ackUnknown" }
  | { op: "drop" }
  | { op: "rewind" };

export type Observation =
  | { op: "publish"; token: number; full: boolean; used: number }
  | { op: "send"; token: number; qos: number; resend: boolean; id: number; size: number; intact: boolean }
  | { op: "ack"; id: number; token: number }
  | { op: "drop"; token: number }
  | { op: "rewind" };

/** Runs `ops` on a fresh outbox; packets are filled with their token's low byte to check they stay intact. */
export function runOutbox(capacity: number, window: number, ops: Op[]): { obs: Observation[]; count: number; inflight: number } {
  const box = new Outbox(capacity, window);
  const obs: Observation[] = [];
  const inflight: number[] = []; // ids in flight, oldest first
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
          inflight.push(id);
        }
        const size = box.sizeAt(at);
        let intact = true;
        for (let k = at + 1; k < at + size; k++) if (box.ring[k] !== (t & 0xff)) intact = false;
        box.written(at);
        obs.push({ op: "send", token: t, qos, resend, id, size, intact });
        break;
      }
      case "ack": {
        if (inflight.length === 0) break;
        const id = inflight.splice(o.nth % inflight.length, 1)[0];
        obs.push({ op: "ack", id, token: box.ack(id) });
        break;
      }
      case "ackUnknown":
        obs.push({ op: "ack", id: 0, token: box.ack(0) });
        break;
      case "drop": {
        // a dropped message already sent keeps its id in flight: its PUBACK may still come
        if (box.count === 0) break;
        obs.push({ op: "drop", token: box.dropOldest() });
        break;
      }
      case "rewind": {
        // ids of dropped messages are forgotten on reconnect; the rest stay in flight
        box.rewind();
        for (let k = inflight.length - 1; k >= 0; k--) if (!box.holds(inflight[k])) inflight.splice(k, 1);
        obs.push({ op: "rewind" });
        break;
      }
    }
  }
  return { obs, count: box.count, inflight: box.inflightCount };
}
