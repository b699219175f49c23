/**
 * MQTT 5.0 reason codes (§2.4): their names, and which packets may carry each.
 */
import { PacketType as T } from "./packet.js";

/** The names §2.4 gives each reason code (0x00 is "Success", "Normal disconnection" or "Granted QoS 0" by packet). */
export const REASON_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0x00: "Success",
  0x01: "Granted QoS 1",
  0x02: "Granted QoS 2",
  0x04: "Disconnect with Will Message",
  0x10: "No matching subscribers",
  0x11: "No subscription existed",
  0x18: "Continue authentication",
  0x19: "Re-authenticate",
  0x80: "Unspecified error",
  0x81: "Malformed Packet",
  0x82: "Protocol Error",
  0x83: "Implementation specific error",
  0x84: "Unsupported Protocol Version",
  0x85: "Client Identifier not valid",
  0x86: "Bad User Name or Password",
  0x87: "Not authorized",
  0x88: "Server unavailable",
  0x89: "Server busy",
  0x8a: "Banned",
  0x8b: "Server shutting down",
  0x8c: "Bad authentication method",
  0x8d: "Keep Alive timeout",
  0x8e: "Session taken over",
  0x8f: "Topic Filter invalid",
  0x90: "Topic Name invalid",
  0x91: "Packet Identifier in use",
  0x92: "Packet Identifier not found",
  0x93: "Receive Maximum exceeded",
  0x94: "Topic Alias invalid",
  0x95: "Packet too large",
  0x96: "Message rate too high",
  0x97: "Quota exceeded",
  0x98: "Administrative action",
  0x99: "Payload format invalid",
  0x9a: "Retain not supported",
  0x9b: "QoS not supported",
  0x9c: "Use another server",
  0x9d: "Server moved",
  0x9e: "Shared Subscriptions not supported",
  0x9f: "Connection rate exceeded",
  0xa0: "Maximum connect time",
  0xa1: "Subscription Identifiers not supported",
  0xa2: "Wildcard Subscriptions not supported",
});

/** The reason codes the client itself sends or acts on, by name. */
export const Reason = Object.freeze({
  Success: 0x00,
  DisconnectWithWill: 0x04,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  PacketIdNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  SharedSubscriptionsNotSupported: 0x9e,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const);

/** The name of a reason code in the packet it came in (`type`), e.g. "Normal disconnection" for DISCONNECT 0. */
export function reasonName(code: number, type = 0): string {
  if (code === 0) return type === T.DISCONNECT ? "Normal disconnection" : type === T.SUBACK ? "Granted QoS 0" : "Success";
  return REASON_NAMES[code] ?? `reason code 0x${code.toString(16)}`;
}

/** The reason codes each packet may carry (§3.2.2.2, §3.4.2.1, ...), as lists. */
const ALLOWED: readonly (readonly [number, readonly number[]])[] = [
  [T.CONNACK, [0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f]],
  [T.PUBACK, [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]],
  [T.PUBREC, [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]],
  [T.PUBREL, [0x00, 0x92]],
  [T.PUBCOMP, [0x00, 0x92]],
  [T.SUBACK, [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2]],
  [T.UNSUBACK, [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91]],
  [
    T.DISCONNECT,
    [0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2],
  ],
  [T.AUTH, [0x00, 0x18, 0x19]],
];

/** By reason code, a bit per packet type that may carry it: `REASON_ALLOWED[code] >> type & 1`. */
export const REASON_ALLOWED = new Uint16Array(256);
for (const [type, codes] of ALLOWED) for (const c of codes) REASON_ALLOWED[c] |= 1 << type;

export function reasonAllowed(type: number, code: number): boolean {
  return ((REASON_ALLOWED[code & 255] >> type) & 1) === 1 && code >= 0 && code < 256;
}
