/**
 * The Node transport (src/platform/node) against a local TCP server on a random loopback
 * port: what one turn of the event loop writes reaches the socket as one `socket.write`
 * (counted on the socket itself, so the test does not depend on how the kernel segments or
 * how the server reads), bytes arrive whole and in order, backpressure still refuses and
 * then announces `onWritable`, and `close()` still sends what was staged. Node only: it
 * tests the Node platform.
 */
import assert from "node:assert/strict";
import net from "node:net";
import type { Transport, TransportSink } from "../src/mqtt/platform.js";
import { nodePlatform } from "../src/platform/node/index.js";

interface Peer {
  port: number;
  /** Bytes the server received, in order. */
  received(): Buffer;
  /** The server's side of the one connection, once accepted. */
  conn(): Promise<net.Socket>;
  close(): Promise<void>;
}

async function startServer(options: { paused?: boolean } = {}): Promise<Peer> {
  const chunks: Buffer[] = [];
  let accepted!: (s: net.Socket) => void;
  const conn = new Promise<net.Socket>((r) => (accepted = r));
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    if (options.paused) s.pause();
    s.on("data", (d) => chunks.push(d));
    s.on("error", () => {});
    accepted(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => Buffer.concat(chunks),
    conn: () => conn,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

interface Opened {
  t: Transport;
  events: string[];
  writable: () => Promise<void>;
}

/** Opens a transport through the platform and resolves once it is connected. */
async function open(port: number, writeBuffer?: number): Promise<Opened> {
  const events: string[] = [];
  let onWritable: (() => void) | null = null;
  let connected!: () => void;
  const ready = new Promise<void>((r) => (connected = r));
  const sink: TransportSink = {
    onConnect: () => (events.push("connect"), connected()),
    onData: () => void events.push("data"),
    onWritable: () => {
      events.push("writable");
      const w = onWritable;
      onWritable = null;
      w?.();
    },
    onClose: (reason) => void events.push(`close ${reason}`),
  };
  const t = nodePlatform({ writeBuffer }).connect({ host: "127.0.0.1", port }, sink);
  await ready;
  return { t, events, writable: () => new Promise<void>((r) => (onWritable = r)) };
}

/** Counts `socket.write` calls (and their bytes) on every net.Socket while `run` is active. */
async function countingWrites<R>(run: () => Promise<R>): Promise<{ result: R; writes: number; bytes: number }> {
  const proto = net.Socket.prototype as unknown as { write: (...a: unknown[]) => boolean };
  const own = Object.prototype.hasOwnProperty.call(proto, "write");
  const original = proto.write;
  let writes = 0;
  let bytes = 0;
  proto.write = function (this: net.Socket, ...a: unknown[]) {
    writes++;
    bytes += (a[0] as Uint8Array).length;
    return original.apply(this, a);
  };
  try {
    return { result: await run(), writes, bytes };
  } finally {
    if (own) proto.write = original;
    else delete (proto as { write?: unknown }).write;
  }
}

/** A PUBLISH-shaped packet: head and body with bytes that tell packet `k` from its neighbours. */
function packet(k: number, bodyLength: number): { head: Uint8Array; body: Uint8Array } {
  const head = new Uint8Array([0x30, 2 + bodyLength, 0, 0]);
  const body = new Uint8Array(bodyLength).map((_, i) => (k * 31 + i) & 0xff);
  return { head, body };
}

function concat(parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p)));
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("Node transport: writes coalesced per event-loop turn", function () {
  let peer: Peer | null = null;
  let opened: Opened | null = null;
  afterEach(async () => {
    opened?.t.close();
    opened = null;
    await peer?.close();
    peer = null;
  });

  it("200 packets written in one turn (writePacket and write mixed) reach the socket as one write, whole and in order", async () => {
    peer = await startServer();
    opened = await open(peer.port);
    const { t } = opened;
    const expected: Uint8Array[] = [];
    // a ring the client would write from: packets at offsets inside a larger array
    const ring = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
    const { writes, bytes } = await countingWrites(async () => {
      for (let k = 0; k < 200; k++) {
        if (k % 3 === 2) {
          const at = (k * 13) % 4000;
          const n = 1 + (k % 60); // below and above the byte-loop threshold
          assert.equal(t.write(ring, at, at + n), n);
          expected.push(ring.slice(at, at + n));
        } else {
          const { head, body } = packet(k, 20 + (k % 40));
          assert.equal(t.writePacket(head, body), true);
          expected.push(head, body);
        }
      }
      // the turn ends here: the stage is flushed on the next tick
      await new Promise((r) => setImmediate(r));
    });
    const want = concat(expected);
    assert.equal(writes, 1, `${writes} socket writes for 200 packets in one turn`);
    assert.equal(bytes, want.length);
    await until(() => peer!.received().length >= want.length, "all bytes at the server");
    assert.deepEqual(peer.received(), want);
  });

  it("writes of separate turns are not held back: each turn's bytes go out by the end of that turn", async () => {
    peer = await startServer();
    opened = await open(peer.port);
    const { t } = opened;
    const expected: Uint8Array[] = [];
    const { writes } = await countingWrites(async () => {
      for (let turn = 0; turn < 5; turn++) {
        for (let k = 0; k < 10; k++) {
          const { head, body } = packet(turn * 10 + k, 30);
          assert.equal(t.writePacket(head, body), true);
          expected.push(head, body);
        }
        await new Promise((r) => setImmediate(r));
      }
    });
    assert.equal(writes, 5, "one socket write per turn");
    const want = concat(expected);
    await until(() => peer!.received().length >= want.length, "all bytes at the server");
    assert.deepEqual(peer.received(), want);
  });

  it("a turn that writes more than the stage holds flushes as it fills, and a packet larger than the stage keeps its place", async () => {
    peer = await startServer();
    opened = await open(peer.port, 1024);
    const { t } = opened;
    const expected: Uint8Array[] = [];
    const big = new Uint8Array(3000).map((_, i) => (i * 5 + 1) & 0xff);
    const { writes } = await countingWrites(async () => {
      for (let k = 0; k < 100; k++) {
        if (k === 40) {
          assert.equal(t.write(big, 0, big.length), big.length);
          expected.push(big);
        } else if (k === 70) {
          const { head } = packet(k, 0);
          assert.equal(t.writePacket(head, big), true);
          expected.push(head, big);
        } else {
          const { head, body } = packet(k, 60);
          assert.equal(t.writePacket(head, body), true);
          expected.push(head, body);
        }
      }
      await new Promise((r) => setImmediate(r));
    });
    const want = concat(expected);
    // 98 packets of 64 bytes (16 per 1,024-byte stage) and two larger than the stage
    assert.ok(writes >= 9 && writes <= 12, `${writes} socket writes for ${want.length} bytes through a 1,024-byte stage`);
    await until(() => peer!.received().length >= want.length, "all bytes at the server");
    assert.deepEqual(peer.received(), want);
  });

  it("under backpressure refuses (write 0, writePacket false) until onWritable, and loses or reorders nothing", async function () {
    this.timeout(20000);
    peer = await startServer({ paused: true });
    opened = await open(peer.port);
    const { t, events } = opened;
    const expected: Uint8Array[] = [];
    let k = 0;
    // write in one turn until the socket pushes back: the kernel buffers fill, then Node's
    let refusedAt = -1;
    for (; k < 1_000_000; k++) {
      const { head, body } = packet(k, 200);
      if (k % 2 === 0) {
        if (!t.writePacket(head, body)) {
          refusedAt = k;
          break;
        }
        expected.push(head, body);
      } else {
        const whole = concat([head, body]);
        const n = t.write(whole, 0, whole.length);
        if (n === 0) {
          refusedAt = k;
          break;
        }
        assert.equal(n, whole.length, "all or nothing from a stage that has room");
        expected.push(whole);
      }
    }
    assert.ok(refusedAt > 0, "the socket never pushed back");
    // refused again while blocked, in this turn and the next
    const { head, body } = packet(k, 200);
    assert.equal(t.writePacket(head, body), false);
    assert.equal(t.write(body, 0, body.length), 0);
    await new Promise((r) => setImmediate(r));
    assert.equal(t.writePacket(head, body), false);
    assert.ok(!events.includes("writable"), "onWritable before the peer read anything");
    const writable = opened.writable();
    (await peer.conn()).resume();
    await writable;
    // writable again: the refused packet goes now, after everything taken before it
    assert.equal(t.writePacket(head, body), true);
    expected.push(head, body);
    const want = concat(expected);
    await until(() => peer!.received().length >= want.length, "all bytes at the server", 15000);
    assert.equal(peer.received().length, want.length);
    assert.ok(peer.received().equals(want), "bytes differ from what was taken, in order");
  });

  it("close() in the turn that staged a packet still sends it", async () => {
    peer = await startServer();
    const o = await open(peer.port);
    const disconnect = new Uint8Array([0xe0, 0x00]);
    const { head, body } = packet(1, 10);
    assert.equal(o.t.writePacket(head, body), true);
    assert.equal(o.t.write(disconnect, 0, 2), 2);
    o.t.close();
    const want = concat([head, body, disconnect]);
    await until(() => peer!.received().length >= want.length, "the staged bytes at the server");
    assert.deepEqual(peer.received(), want);
    assert.equal(o.t.write(disconnect, 0, 2), 0, "a closed transport takes nothing");
    assert.equal(o.t.writePacket(head, body), false);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(o.events, ["connect"], "no sink call after close()");
  });
});
