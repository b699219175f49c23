/**
 * Follows the QoS 2 flows through a fault proxy (fed from its `tap`), packet by packet each way, so a test can
 * cut at a chosen point and say what was in flight at each cut. An id moves from "PUBLISH
 * seen, no PUBREC yet" to "PUBREC passed to the client, no PUBREL back yet" to "PUBREL
 * passed to the broker, no PUBCOMP yet", and leaves on PUBCOMP.
 */
export class Qos2Flows {
  readonly beforePubrec = new Set<number>();
  readonly pubrecNoPubrel = new Set<number>();
  readonly pubrelNoPubcomp = new Set<number>();
  /** PUBLISHes with DUP=1 and PUBRELs for an id already released, seen going up. */
  dupPublishes = 0;
  pubrelsAgain = 0;
  /** QoS 2 PUBLISHes that passed to the broker, PUBRECs to the client, and bytes either way, over all connections. */
  publishes = 0;
  pubrecs = 0;
  bytes = 0;
  /** Called after each whole packet has passed: type, id (0 when none), direction. */
  onPacket: ((type: number, id: number, up: boolean) => void) | null = null;
  private partial = new Map<string, Buffer>();

  feed(up: boolean, piece: Buffer, connection: number): void {
    this.bytes += piece.length;
    const key = `${connection}${up ? "u" : "d"}`;
    let b = this.partial.has(key) ? Buffer.concat([this.partial.get(key)!, piece]) : piece;
    for (;;) {
      let rl = 0;
      let i = 1;
      for (let mul = 1; ; mul *= 128, i++) {
        if (i >= b.length) return void this.partial.set(key, b);
        rl += (b[i] & 127) * mul;
        if ((b[i] & 128) === 0) break;
      }
      const end = i + 1 + rl;
      if (b.length < end) return void this.partial.set(key, b);
      this.packet(b.subarray(0, end), i + 1, up);
      b = b.subarray(end);
    }
  }

  private packet(p: Buffer, body: number, up: boolean): void {
    const type = p[0] >> 4;
    let id = 0;
    if (type === 3 && up && ((p[0] >> 1) & 3) === 2) {
      id = p.readUInt16BE(body + 2 + p.readUInt16BE(body));
      this.publishes++;
      if (p[0] & 8) this.dupPublishes++;
      this.pubrecNoPubrel.delete(id);
      this.pubrelNoPubcomp.delete(id);
      this.beforePubrec.add(id);
    } else if (type === 5 && !up) {
      id = p.readUInt16BE(body);
      this.pubrecs++;
      if (this.beforePubrec.delete(id)) this.pubrecNoPubrel.add(id);
    } else if (type === 6 && up) {
      id = p.readUInt16BE(body);
      if (this.pubrelNoPubcomp.has(id)) this.pubrelsAgain++;
      this.pubrecNoPubrel.delete(id);
      this.beforePubrec.delete(id);
      this.pubrelNoPubcomp.add(id);
    } else if (type === 7 && !up) {
      id = p.readUInt16BE(body);
      this.beforePubrec.delete(id);
      this.pubrecNoPubrel.delete(id);
      this.pubrelNoPubcomp.delete(id);
    }
    this.onPacket?.(type, id, up);
  }

  /** What was in flight, by phase, now. */
  snapshot(): { beforePubrec: number; pubrecNoPubrel: number; pubrelNoPubcomp: number } {
    return { beforePubrec: this.beforePubrec.size, pubrecNoPubrel: this.pubrecNoPubrel.size, pubrelNoPubcomp: this.pubrelNoPubcomp.size };
  }
}
