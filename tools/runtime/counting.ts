/**
 * A platform that counts the bytes its transports carry, both ways: what `npm start`
 * reports per wake in battery mode (bytes on the wire per reading).
 */
import type { Platform, Transport } from "../../src/mqtt/platform.js";

export function countingPlatform(base: Platform, count: { out: number; in: number }): Platform {
  return {
    ...base,
    connect(broker, sink): Transport {
      const t = base.connect(broker, {
        onConnect: () => sink.onConnect(),
        onData: (d, s, e) => {
          count.in += e - s;
          sink.onData(d, s, e);
        },
        onWritable: () => sink.onWritable(),
        onClose: (reason) => sink.onClose(reason),
      });
      return {
        write(d, s, e) {
          const n = t.write(d, s, e);
          count.out += n;
          return n;
        },
        writePacket(h, b) {
          const ok = t.writePacket(h, b);
          if (ok) count.out += h.length + b.length;
          return ok;
        },
        close: () => t.close(),
      };
    },
  };
}
