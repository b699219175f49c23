/**
 * The client's deadlines and session rules on a manual clock (host-test/session/ops.ts):
 * keepalive, PINGRESP, CONNACK and reconnect backoff through the one time entry point
 * `tick(now)`, exactly, with no real sleeps; each scenario runs from a clock of 1000 and
 * from just below the 32-bit wrap, so every deadline is also met across the wrap. The
 * real-time versions against real brokers stay in client.test.ts and reliability.test.ts.
 * Both engines.
 */
import assert from "node:assert/strict";
import { ENGINES, openEngine, type Engine } from "./engines.js";
import * as ops from "./session/ops.js";
import type { Event } from "./session/ops.js";

/** Clocks to start from: ordinary, and two that wrap during the scenario. */
const STARTS = [1000, 2 ** 32 - 3000, 2 ** 32 - 10];

type Row = [number, string, (string | number)?];
const rows = (events: Event[]): Row[] => events.map((e) => (e.detail === undefined ? [e.t, e.what] : [e.t, e.what, e.detail]));

const EXPECTED: Record<string, Row[]> = {
  keepalive: [
    [0, "sent", "connect"],
    [0, "connected", "new"],
    [0, "wait", 5000], // activity is counted: look every half interval
    [5000, "wait", 5000],
    [9999, "wait", 1],
    [10000, "sent", "pingreq"],
    [10000, "wait", 5000], // the PINGRESP deadline
    [10020, "wait", 5000],
    [12000, "delivered", 1],
    [15020, "sent", "publish"],
    [15020, "wait", 5000],
    [20019, "wait", 1],
    [20020, "sent", "pingreq"], // one interval after the PINGRESP, the publish counted at the look before it
    [20020, "wait", 5000],
    [25000, "wait", 5000],
    [30020, "sent", "pingreq"],
    [30020, "wait", 5000],
  ],
  pingTimeout: [
    [0, "sent", "connect"],
    [0, "connected", "new"],
    [10000, "sent", "pingreq"],
    [10000, "wait", 3000],
    [12999, "wait", 1],
    [13000, "lost", "KeepaliveTimeout"],
    [13000, "wait", 1000],
    [13999, "wait", 1],
    [14000, "wait", 10000], // the next attempt is open, CONNACK due in 10 s
    [14000, "pipes", 2],
  ],
  connackTimeout: [
    [0, "sent", "connect"],
    [0, "wait", 2000],
    [1999, "wait", 1],
    [2000, "error", "ConnectTimeout"],
    [2000, "wait", 1000],
    [2000, "broker", "b"],
    [3000, "wait", 2000],
    [5000, "error", "ConnectTimeout"], // the transport never opened: the same deadline
    [5000, "wait", 2000],
    [5000, "broker", "a"],
    [7000, "wait", 2000],
    [7000, "sent", "connect"],
    [7000, "connected", "new"],
    [7000, "wait", 30000],
  ],
  backoff: [
    ...[0, 1000, 3000, 7000, 15000, 23000].flatMap((t, k): Row[] => [
      [t, "sent", "connect"],
      [t, "error", "ConnectionRefused"],
      [t, "wait", [1000, 2000, 4000, 8000, 8000, 8000][k]],
    ]),
    [31000, "sent", "connect"],
    [31000, "connected", "new"],
    [31000, "lost", "ConnectionLost"],
    [31000, "wait", 1000], // a success starts the backoff over
  ],
  qos2Overflow: [
    [0, "sent", "connect"],
    [0, "connected", "new"],
    [0, "message", "q/2:one"],
    [0, "sent", "pubrec:1"],
    [0, "message", "q/2:two"],
    [0, "sent", "pubrec:2"],
    [0, "drop", "qos2-overflow:3"],
    [0, "error", "InboundQos2Full"],
    [0, "lost", "InboundQos2Full"],
    [0, "stats", JSON.stringify({ dropped: 1, received: 2 })],
    [0, "wait", 1000],
    [1000, "sent", "connect"],
    [1000, "connected", "session"],
    [1000, "sent", "pubrec:1"], // the resent duplicate is answered, not delivered
    [1000, "sent", "pubcomp:1"],
    [1000, "message", "q/2:three"],
    [1000, "sent", "pubrec:3"],
    [1000, "sent", "pubcomp:2"],
    [1000, "sent", "pubcomp:3"],
    [1000, "stats", JSON.stringify({ dropped: 1, received: 3, duplicates: 1 })],
  ],
  handlerThrows: [
    [0, "sent", "connect"],
    [0, "connected", "new"],
    [0, "sent", "subscribe:1"],
    [0, "error", "HandlerError"],
    [0, "message", "h/1:a"],
    [0, "message", "h/2:b"],
    [0, "sent", "puback:7"],
    [0, "stats", JSON.stringify({ handlerErrors: 1, received: 2, connected: true })],
  ],
  knownSubscription: [
    [0, "sent", "connect"],
    [0, "connected", "session"],
    [0, "sent", "subscribe:1"], // k/new only
    [0, "lost", "ConnectionLost"],
    [1000, "sent", "connect"],
    [1000, "connected", "session"],
    [1000, "lost", "ConnectionLost"],
    [2000, "sent", "connect"],
    [2000, "connected", "new"],
    [2000, "sent", "subscribe:2"],
    [2000, "granted", "k/known:1"],
  ],
  unsubscribeOffline: [
    [0, "sent", "connect"],
    [0, "connected", "new"],
    [0, "sent", "subscribe:1"],
    [0, "lost", "ConnectionLost"],
    [1000, "sent", "connect"],
    [1000, "connected", "session"],
    [1000, "sent", "unsubscribe:2"], // the one asked for while offline
    [1000, "lost", "ConnectionLost"],
    [1000, "sent", "unsubscribe:3"], // written before the cut, seen after it
    [2000, "sent", "connect"],
    [2000, "connected", "session"],
    [2000, "sent", "unsubscribe:4"], // both unanswered requests again, new ids
    [2000, "sent", "unsubscribe:5"],
    [2000, "unsubscribed", "u/1"],
    [2000, "unsubscribed", "u/2"],
    [2000, "stats", JSON.stringify({ unknownAcks: 1, connected: true })],
  ],
  qos2Flow: [
    [0, "sent", "connect"],
    [0, "connected", "new"],
    [0, "sent", "publish:1"],
    [0, "sent", "pubrel:1"],
    [0, "inflight", 1], // released: the slot holds until PUBCOMP, so the second waits
    [0, "delivered", 1],
    [0, "sent", "publish:2"],
    [0, "sent", "pubrel:2"],
    [0, "delivered", 2],
    [0, "stats", JSON.stringify({ delivered: 2, queued: 0, inflight: 0 })],
  ],
  qos2Cuts: [
    [0, "sent", "connect"],
    [0, "connected", "new"],
    [0, "sent", "publish:1"],
    [0, "lost", "ConnectionLost"],
    [1000, "sent", "connect"],
    [1000, "connected", "session"],
    [1000, "sent", "publish:1:dup"], // no PUBREC yet: the PUBLISH again, DUP=1, same id
    [1000, "sent", "pubrel:1"],
    [1000, "lost", "ConnectionLost"],
    [2000, "sent", "connect"],
    [2000, "connected", "session"],
    [2000, "sent", "pubrel:1"], // after the PUBREC: only the PUBREL, never the PUBLISH
    [2000, "delivered", 1],
    [2000, "stats", JSON.stringify({ delivered: 1, resent: 1, queued: 0 })],
  ],
  qos2Order: [
    [0, "sent", "connect"],
    [0, "connected", "new"],
    ...[1, 2, 3, 4, 5].map((id): Row => [0, "sent", `publish:${id}`]),
    [0, "sent", "pubrel:3"],
    [0, "sent", "pubrel:1"],
    [0, "sent", "pubrel:4"],
    [0, "lost", "ConnectionLost"],
    [1000, "sent", "connect"],
    [1000, "connected", "session"],
    [1000, "sent", "pubrel:3"], // PUBREC order
    [1000, "sent", "pubrel:1"],
    [1000, "sent", "pubrel:4"],
    [1000, "sent", "publish:2:dup"], // then the unacknowledged, in their order
    [1000, "sent", "publish:5:dup"],
  ],
  qos2Unknown: [
    [0, "sent", "connect"],
    [0, "connected", "new"],
    [0, "sent", "pubrel:77"],
    [0, "stats", JSON.stringify({ unknownAcks: 2, connected: true })],
    [0, "sent", "publish:1"],
    [0, "delivered", 1], // a PUBACK for it: taken at QoS 1
    [0, "stats", JSON.stringify({ qos2AsQos1: 1, inflight: 0, connected: true })],
    [0, "sent", "publish:2"],
    [0, "sent", "pubrel:2"],
    [0, "error", "UnexpectedPacket"], // a PUBACK past its PUBREC
    [0, "lost", "ProtocolError"],
    [0, "connected", "false"],
  ],
  qos2NoSession: [
    [0, "sent", "connect"],
    [0, "connected", "new"],
    [0, "sent", "publish:1"],
    [0, "sent", "publish:2"],
    [0, "sent", "pubrel:1"],
    [0, "lost", "ConnectionLost"],
    [1000, "sent", "connect"],
    [1000, "delivered", 1], // released, the session gone: done, counted
    [1000, "connected", "new"],
    [1000, "sent", "publish:2:dup"], // unacknowledged: published again
    [1000, "sent", "pubrel:2"],
    [1000, "delivered", 2],
    [1000, "stats", JSON.stringify({ delivered: 2, releasedWithoutSession: 1, queued: 0 })],
  ],
  closeOwesAcks: [
    [0, "sent", "connect"],
    [0, "connected", "new"],
    [0, "message", "in/2:m"],
    [0, "sent", "pubrec:9"],
    [0, "released", 9],
    [0, "sent", "pubcomp:9"], // owed: written before the DISCONNECT
    [0, "sent", "disconnect"],
    [0, "closed", "true"],
  ],
};

for (const engineName of ENGINES) {
  describe(`client on a manual clock, on ${engineName}`, function () {
    this.timeout(20000);
    let engine: Engine;
    before(async () => {
      engine = await openEngine(engineName, ops, "session/xs-entry.js");
    });
    after(async () => engine?.close());

    for (const [name, expected] of Object.entries(EXPECTED)) {
      it(`${name}: exact from clocks ${STARTS.join(", ")} (across the 32-bit wrap)`, async () => {
        for (const start of STARTS) {
          const got = rows(await engine.call<Event[]>(name, start));
          assert.deepEqual(got, expected, `${name} from ${start}`);
        }
      });
    }

    it("backoffDelay: doubles from min, caps at max, takes off up to jitter × random, never negative", async () => {
      const table = await engine.call<number[][]>("backoffTable");
      // [attempt, min, max, jitter, random] → delay
      assert.deepEqual(
        table.map((r) => r[5]),
        [1000, 2000, 32000, 60000, 60000, 8000, 6002, 4000, 60000, 0],
      );
    });
  });
}
