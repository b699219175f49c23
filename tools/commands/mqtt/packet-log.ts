/**
 * `-d`: every packet sent and received, as libmosquitto 2.0's debug log shows it, read from
 * the bytes on the Node side of the connection (where the sockets are on both engines).
 */
import { Decoder } from "../../../src/mqtt/decode.js";
import { PacketName, PacketType as T, type Packet } from "../../../src/mqtt/packet.js";
import type { Platform, Transport, TransportSink } from "../../../src/mqtt/platform.js";
import { decodeUtf8 } from "../../../src/mqtt/utf8.js";
import { propertiesToObject } from "../../inspect.js";

const bit = (b: boolean) => (b ? 1 : 0);

/**
 * One packet as libmosquitto 2.0's debug log shows it, sent (`sending`) or received.
 * Acks read differently each way, as mosquitto's send and handle functions print them:
 * "sending PUBREC (m1, rc0)" but "received PUBREC (Mid: 1)"; MQTT 3.1.1 acks carry no
 * reason code, which libmosquitto then prints as 0.
 */
function describePacket(p: Packet, sending: boolean, v5: boolean): string[] {
  const d = p.data;
  const text = (start: number, length: number) => decodeUtf8(d, start, start + length);
  const id = p.packetId;
  switch (p.type) {
    case T.CONNECT:
      return ["CONNECT"];
    case T.CONNACK:
      return [`CONNACK (${p.returnCode})`];
    case T.PUBLISH: {
      const line = `PUBLISH (d${bit(p.dup)}, q${p.qos}, r${bit(p.retain)}, m${id}, '${text(p.topicStart, p.topicLength)}', ... (${p.payloadLength} bytes))`;
      // MQTT 5: its properties too (mosquitto's log leaves them out)
      const props = v5 && p.properties ? propertiesToObject(p.properties) : undefined;
      return props ? [line, `PUBLISH properties ${JSON.stringify(props)}`] : [line];
    }
    case T.PUBACK:
      return [sending ? `PUBACK (m${id}, rc${p.reasonCode})` : `PUBACK (Mid: ${id}, RC:${p.reasonCode})`];
    case T.PUBREC:
      return [sending ? `PUBREC (m${id}, rc${p.reasonCode})` : `PUBREC (Mid: ${id})`];
    case T.PUBREL:
      return [sending ? `PUBREL (m${id})` : `PUBREL (Mid: ${id})`];
    case T.PUBCOMP:
      return [sending ? `PUBCOMP (m${id})` : `PUBCOMP (Mid: ${id}, RC:${p.reasonCode})`];
    case T.DISCONNECT:
      return v5 && p.reasonCode !== 0 ? [`DISCONNECT (${p.reasonCode})`] : ["DISCONNECT"];
    case T.UNSUBSCRIBE:
    case T.UNSUBACK:
      return [`${PacketName[p.type].toUpperCase()} (Mid: ${id})`];
    case T.SUBSCRIBE: {
      const lines: string[] = [];
      for (let k = p.payloadStart; k < p.payloadEnd; ) {
        const n = (d[k] << 8) | d[k + 1];
        const options = d[k + 2 + n];
        const hex = (options & 0xfc).toString(16).padStart(2, "0");
        lines.push(`SUBSCRIBE (Mid: ${id}, Topic: ${text(k + 2, n)}, QoS: ${options & 3}, Options: 0x${hex})`);
        k += 3 + n;
      }
      return lines;
    }
    case T.SUBACK:
      return ["SUBACK", `Subscribed (mid: ${id}): ${Array.from(d.subarray(p.payloadStart, p.payloadEnd)).join(", ")}`];
    default:
      return [PacketName[p.type].toUpperCase()];
  }
}

/** Decodes one direction of a connection for the log; stops at the first undecodable byte. */
function packetLog(verb: "sending" | "received", clientId: string, log: (line: string) => void, version: number, onDisconnect?: () => void): (d: Uint8Array, start: number, end: number) => void {
  const decoder: Decoder = new Decoder(
    4096,
    {
      onPacket(p) {
        if (p.type === T.DISCONNECT) onDisconnect?.();
        if (p.type === T.PUBLISH && p.payloadOffset > 0) return; // later fragments of a large one
        for (const line of describePacket(p, verb === "sending", decoder.version === 5)) log(line.startsWith("Subscribed") ? line : `Client ${clientId} ${verb} ${line}`);
      },
    },
    // a broker may send Topic Aliases up to what we announce; we announce none
    { protocolVersion: version, topicAliasMaximum: 0 },
  );
  let failed = false;
  return (d, start, end) => {
    if (failed || end <= start) return;
    try {
      decoder.push(d, start, end);
    } catch (e) {
      failed = true;
      log(`Client ${clientId} ${verb} bytes that do not decode: ${(e as Error).message}`);
    }
  };
}

/** `platform` with every packet sent and received written to `log`. */
export function tapped(platform: Platform, clientId: string, log: (line: string) => void, version = 4): Platform {
  return {
    ...platform,
    connect(broker, sink) {
      log(`Client ${clientId} connecting to ${broker.host}:${broker.port}${broker.tls ? " with TLS" : ""}`);
      let disconnecting = false;
      const sent = packetLog("sending", clientId, log, version, () => (disconnecting = true));
      const received = packetLog("received", clientId, log, version);
      const inner: TransportSink = {
        onConnect: () => sink.onConnect(),
        onData: (d, s, e) => {
          received(d, s, e);
          sink.onData(d, s, e);
        },
        onWritable: () => sink.onWritable(),
        onClose: (reason) => {
          // a broker closes after DISCONNECT; on XS that can be seen before the client's own close
          if (reason || !disconnecting) log(`Client ${clientId} connection closed${reason ? `: ${reason}` : " by the broker"}`);
          sink.onClose(reason);
        },
      };
      const t: Transport = platform.connect(broker, inner);
      return {
        write(d, s, e) {
          const n = t.write(d, s, e);
          sent(d, s, s + n);
          return n;
        },
        writePacket(h, b) {
          if (!t.writePacket(h, b)) return false;
          sent(h, 0, h.length);
          sent(b, 0, b.length);
          return true;
        },
        close: () => t.close(),
      };
    },
  };
}
