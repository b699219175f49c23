/**
 * A scripted broker for byte-exact protocol edge cases (not a substitute for aedes or
 * mosquitto): accepts TCP connections on a loopback port, parses what clients send with
 * mqtt-packet (an independent implementation), records every packet with its raw bytes,
 * and lets the test answer as it likes.
 */
import net from "node:net";
import mqttPacket from "mqtt-packet";

export interface Received {
  conn: number;
  packet: any;
  /** Order across the whole test, shared with other logs through `seq`. */
  seq: number;
  at: number;
}

let sequence = 0;
/** A global sequence number, for ordering events between the broker and the client's log. */
export const seq = () => ++sequence;

export interface FakeConn {
  id: number;
  socket: net.Socket;
  /** The protocol level of the connection's CONNECT (4 until it comes): what `send` writes. */
  version: number;
  send(packet: object): void;
  sendRaw(bytes: Uint8Array): void;
}

export class FakeBroker {
  readonly received: Received[] = [];
  readonly conns: FakeConn[] = [];
  /** Answers CONNECT with this CONNACK return code (0 accepts); under MQTT 5 with `properties` too (the code is the reason code). */
  connack: (conn: FakeConn, connect: any) => { returnCode: number; sessionPresent?: boolean; properties?: object } | null = () => ({ returnCode: 0 });
  /** Answer PINGREQ. */
  answerPings = true;
  /** Answer SUBSCRIBE with these codes (default: the requested QoS). */
  suback: ((packet: any) => number[]) | null = null;
  /** MQTT 5: answer UNSUBSCRIBE with these reason codes (default: 0 for each filter). */
  unsuback: ((packet: any) => number[]) | null = null;
  /** Acknowledge QoS 1 publishes. */
  ackPublishes = true;
  onPacket: (conn: FakeConn, packet: any) => void = () => {};
  private server: net.Server;
  port = 0;

  constructor() {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  static async start(port = 0): Promise<FakeBroker> {
    const b = new FakeBroker();
    await new Promise<void>((r) => b.server.listen(port, "127.0.0.1", () => r()));
    b.port = (b.server.address() as net.AddressInfo).port;
    return b;
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    const conn: FakeConn = {
      id: this.conns.length + 1,
      socket,
      version: 4,
      send: (p) => socket.writable && socket.write(mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion: conn.version } as never)),
      sendRaw: (b) => socket.writable && socket.write(b),
    };
    this.conns.push(conn);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on("packet", (packet: any) => {
      if (packet.cmd === "connect") conn.version = packet.protocolVersion;
      this.received.push({ conn: conn.id, packet, seq: seq(), at: Date.now() });
      this.auto(conn, packet);
      this.onPacket(conn, packet);
    });
    parser.on("error", () => socket.destroy());
    socket.on("data", (d) => parser.parse(d));
    socket.on("error", () => undefined);
  }

  private auto(conn: FakeConn, p: any): void {
    switch (p.cmd) {
      case "connect": {
        const a = this.connack(conn, p);
        if (a)
          conn.send(
            conn.version === 5
              ? { cmd: "connack", reasonCode: a.returnCode, sessionPresent: !!a.sessionPresent, properties: a.properties }
              : { cmd: "connack", returnCode: a.returnCode, sessionPresent: !!a.sessionPresent },
          );
        break;
      }
      case "pingreq":
        if (this.answerPings) conn.send({ cmd: "pingresp" });
        break;
      case "subscribe":
        conn.send({ cmd: "suback", messageId: p.messageId, granted: this.suback ? this.suback(p) : p.subscriptions.map((s: any) => s.qos) });
        break;
      case "unsubscribe":
        conn.send(
          conn.version === 5
            ? { cmd: "unsuback", messageId: p.messageId, granted: this.unsuback ? this.unsuback(p) : p.unsubscriptions.map(() => 0) }
            : { cmd: "unsuback", messageId: p.messageId },
        );
        break;
      case "publish":
        if (p.qos === 1 && this.ackPublishes) conn.send({ cmd: "puback", messageId: p.messageId });
        break;
    }
  }

  of(cmd: string, conn?: number): Received[] {
    return this.received.filter((r) => r.packet.cmd === cmd && (conn === undefined || r.conn === conn));
  }

  async waitFor(pred: (r: Received) => boolean, ms: number, what: string): Promise<Received> {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = this.received.find(pred);
      if (r) return r;
      if (Date.now() > deadline) throw new Error(`fake broker: timed out waiting for ${what}; got ${this.received.length} packets, the last: ${JSON.stringify(this.received.slice(-3).map((x) => x.packet.cmd))}`);
      await new Promise((res) => setTimeout(res, 5));
    }
  }

  /** Waits until `cond()` holds. */
  async until(cond: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`fake broker: timed out waiting for ${what}; got ${this.received.length} packets, the last: ${JSON.stringify(this.received.slice(-3).map((x) => x.packet.cmd))}`);
      await new Promise((res) => setTimeout(res, 5));
    }
  }

  async waitConns(n: number, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.conns.length < n) {
      if (Date.now() > deadline) throw new Error(`fake broker: ${this.conns.length} connections, wanted ${n}`);
      await new Promise((res) => setTimeout(res, 5));
    }
  }

  /** Drops every open connection (RST). */
  dropAll(): void {
    for (const c of this.conns) c.socket.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
