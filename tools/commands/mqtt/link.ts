/**
 * The link: one xsmqtt client connected to the broker a command line names, on the engine
 * it names, and the command's view of its state.
 *
 * Both engines run the client through the driver (tools/runtime/driver.ts): on "node" in
 * this process, on "xs" inside the real XS engine (xsnap) over the bridge
 * (tools/runtime/engine.ts). The commands see one stream of driver events either way, so
 * their behaviour cannot differ between engines. Sockets and TLS live in Node in both
 * cases, which is where `-d` reads the packets from and where the TLS material stays.
 */
import type { DriverOptions } from "../../runtime/driver.js";
import { startEngine, type Engine } from "../../runtime/engine.js";
import { driverModule } from "../../runtime/modules.js";
import type { Platform } from "../../../src/mqtt/platform.js";
import { nodePlatform } from "../../../src/platform/node/index.js";
import type { CommandIo } from "../command.js";
import { addressOf, brokerOf, withBroker } from "./broker.js";
import { clientIdOf, Exit, Failure, type Options } from "./flags.js";
import { tapped } from "./packet-log.js";
import { PacketType as T } from "../../../src/mqtt/packet.js";
import { reasonName } from "../../../src/mqtt/reasons.js";

/** mosquitto_connack_string's words for CONNACK return codes 1-5. */
const CONNACK_TEXT = [
  "Connection Accepted.",
  "Connection Refused: unacceptable protocol version.",
  "Connection Refused: identifier rejected.",
  "Connection Refused: broker unavailable.",
  "Connection Refused: bad user name or password.",
  "Connection Refused: not authorised.",
];

export function connackText(code: number): string {
  return CONNACK_TEXT[code] ?? `Connection Refused: unknown reason (${code}).`;
}

/** An inbound message (or one fragment of a large one) as the commands see it. */
export interface Inbound {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  /** Its packet id (QoS 1 and 2), which {@link LinkOptions.onReleased} names. */
  packetId: number;
  /** More fragments follow. */
  more: boolean;
  /** Where this fragment starts in the whole payload. */
  offset: number;
}

export interface LinkOptions {
  /** Sizes for the client (see ClientOptions). */
  outboxBytes?: number;
  receiveBufferSize?: number;
  sendBufferSize?: number;
  inboundQos2?: number;
  /**
   * What a connection lost after CONNACK does: "fatal" ends the command with
   * mosquitto_pub's "Error: The connection was lost." and status 7 (a one-shot pub);
   * "reconnect" lets the client reconnect and resend what is unacknowledged, with DUP
   * (sub, pub -l, pub --repeat).
   */
  lost: "fatal" | "reconnect";
  onMessage?(m: Inbound): void;
  /** An inbound QoS 2 message's PUBREL came: its flow is complete, the PUBCOMP queued. */
  onReleased?(packetId: number): void;
  /** Each CONNACK; without a session the broker will send no PUBREL for what came before. */
  onConnect?(sessionPresent: boolean): void;
  onDelivered?(token: number): void;
  onSuback?(filter: string, granted: number): void;
}

/** A driver event, as JSON. */
type Event = { type: string; [k: string]: any };

const NAME = "cli";

/** libmosquitto's reconnect delay, which mosquitto_pub and mosquitto_sub keep: 1 s, no backoff. */
const RECONNECT = { min: 1000, max: 1000 };

/**
 * One client, on the engine the options name, and the command's view of its state.
 * Waiting is done with {@link until}, which rejects with the {@link Failure} that ends
 * the command as soon as one happens (a refusal, a lost connection, a timeout).
 */
export class Link {
  connected = false;
  private everConnected = false;
  private failure: Failure | null = null;
  private waiters: { test: () => boolean; resolve: () => void; reject: (f: Failure) => void }[] = [];
  private engine: Engine | null = null;
  private closed = false;
  readonly clientId: string;
  private readonly o: Options;
  private readonly io: CommandIo;
  private readonly lo: LinkOptions;

  constructor(o: Options, io: CommandIo, lo: LinkOptions) {
    this.o = o;
    this.io = io;
    this.lo = lo;
    this.clientId = clientIdOf(o);
  }

  /** A diagnostic line on standard error, unless --quiet. */
  say(line: string): void {
    if (!this.o.quiet) this.io.err(line + "\n");
  }

  /** A -d line. */
  debug(line: string): void {
    if (this.o.debug && !this.o.quiet) this.io.err(line + "\n");
  }

  /**
   * Starts the engine, creates the client, runs `prepare` (subscriptions made there go
   * out in the first SUBSCRIBE), and connects; resolves at CONNACK. Throws {@link Failure}.
   */
  async open(prepare?: () => Promise<void>): Promise<void> {
    const o = this.o;
    const broker = brokerOf(o);
    const v5 = o.protocolVersion === 5;
    const connect = (v5 && o.properties.connect) || {};
    const options: DriverOptions = {
      clientId: this.clientId,
      // the client gets the address; the TLS material stays here, in the platform that dials it
      brokers: [addressOf(broker)],
      clean: o.clean,
      keepalive: o.keepalive,
      will:
        o.will.topic === null
          ? null
          : {
              topic: o.will.topic,
              payload: Buffer.from(o.will.payload ?? "", "utf8").toString("hex"),
              qos: o.will.qos ?? 0,
              retain: o.will.retain,
              ...(v5 && o.properties.will ? { properties: o.properties.will } : {}),
            },
      username: o.username,
      password: o.password === null ? null : Buffer.from(o.password, "utf8").toString("hex"),
      inflightWindow: o.maxInflight,
      outboxBytes: this.lo.outboxBytes,
      receiveBufferSize: this.lo.receiveBufferSize,
      sendBufferSize: this.lo.sendBufferSize,
      inboundQos2: this.lo.inboundQos2,
      queuePolicy: "refuse",
      reconnect: RECONNECT,
    };
    if (v5) {
      options.protocolVersion = 5;
      // as mosquitto's clients: no Topic Alias and no Subscription Identifier unless -D asks
      options.topicAliases = 0;
      options.subscriptionIdentifiers = false;
      // mosquitto's clients: -x, else -D connect session-expiry-interval, else with -c a session that never expires
      const expiry = o.sessionExpiry ?? (connect.sessionExpiryInterval as number | undefined) ?? (o.clean ? 0 : 0xffffffff);
      if (expiry > 0) options.sessionExpiry = expiry;
      if (connect.receiveMaximum !== undefined) options.inboundQos2 = connect.receiveMaximum as number;
      if (connect.maximumPacketSize !== undefined) options.maxInboundPacketSize = connect.maximumPacketSize as number;
      if (connect.requestProblemInformation !== undefined) options.requestProblemInformation = connect.requestProblemInformation as boolean;
    }
    let platform: Platform = withBroker(nodePlatform(), broker);
    // both engines dial with this (tapped, under -d) Node platform, so both log the same bytes
    if (o.debug && !o.quiet) platform = tapped(platform, this.clientId, (l) => this.io.err(l + "\n"), o.protocolVersion);
    try {
      this.engine = await startEngine(o.engine, driverModule, { platform, workerName: `xsmqtt-${o.role}`, onEvent: (e, bytes) => this.event(e, bytes) });
    } catch (e) {
      throw new Failure(`Error: cannot start the XS engine: ${(e as Error).message}`);
    }
    await this.call("create", NAME, options);
    await prepare?.();
    await this.call("connect", NAME);
    await this.until(() => this.connected);
  }

  /** Queues a message; resolves to its token. Waits for room when the outbox is full. Throws {@link Failure}. */
  async publish(topic: string, payload: Uint8Array, qos: number, retain: boolean, delivered: () => number): Promise<number> {
    for (;;) {
      const before = delivered();
      const properties = this.o.protocolVersion === 5 ? this.o.properties.publish : undefined;
      const r = await this.call("publishBytes", NAME, topic, properties ? { qos, retain, properties } : { qos, retain }, payload);
      if (r && typeof r.token === "number") return r.token;
      const err = r?.error ?? { code: "?", message: "publish failed" };
      if (err.code !== "QueueFull") throw new Failure(`Error: ${err.message} (${err.code})`);
      await this.until(() => delivered() > before);
    }
  }

  private call(op: string, ...args: unknown[]): Promise<any> {
    const e = this.engine;
    if (!e) return Promise.resolve(null);
    // bytes go last and cross into XS as bytes
    const last = args[args.length - 1];
    return last instanceof Uint8Array ? e.callWith(last, op, ...args.slice(0, -1)) : e.call(op, ...args);
  }

  async subscribe(filter: string, qos: number): Promise<void> {
    const r = await this.call("subscribe", NAME, filter, qos, false);
    if (r?.error) throw new Failure(`Error: cannot subscribe to '${filter}': ${r.error.message}`);
  }

  /** Resolves once `test()` holds (checked after every event); rejects with the first failure. */
  until(test: () => boolean): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ test, resolve, reject }));
  }

  /** Rejects with the failure that ends the command, whenever it comes. */
  failed(): Promise<never> {
    return new Promise<never>((_, reject) => this.waiters.push({ test: () => false, resolve: () => undefined, reject }));
  }

  /** Waits `ms`, or less if the command fails meanwhile. */
  async sleep(ms: number): Promise<void> {
    let done = false;
    const t = setTimeout(() => {
      done = true;
      this.changed();
    }, ms);
    try {
      await this.until(() => done);
    } finally {
      clearTimeout(t);
    }
  }

  /** Ends the command with `f`: every wait rejects with it. The first failure wins. */
  fail(f: Failure): void {
    if (this.failure) return;
    this.failure = f;
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.reject(f);
  }

  /** Re-checks the waits; call after changing what they test. */
  changed(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.test());
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  /** Sends DISCONNECT if connected, closes the client and stops the engine. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    const e = this.engine;
    if (!e) return;
    try {
      await e.call("close", NAME);
    } finally {
      for (const f of e.failures()) this.say(`Error inside the XS engine: ${f}`);
      await e.close();
    }
  }

  private event(e: Event, bytes?: Uint8Array): void {
    if (this.closed) return;
    switch (e.type) {
      case "connect":
        this.connected = this.everConnected = true;
        this.lo.onConnect?.(e.sessionPresent);
        break;
      case "disconnect":
        this.connected = false;
        if (this.lo.lost === "fatal") this.fail(new Failure("Error: The connection was lost.", Exit.ConnectionLost));
        else this.debug(`Client ${this.clientId} lost the connection (${e.message ?? "closed by the broker"}); reconnecting`);
        break;
      case "error":
        // as mosquitto's clients: 3.1.1's words and its return code, or 5.0's reason code name (and the broker's Reason String) and the reason code
        if (e.code === "ConnectionRefused")
          this.fail(
            e.reasonCode >= 0x80
              ? new Failure(`Connection error: ${reasonName(e.reasonCode, T.CONNACK)}${e.reasonString ? ` (${e.reasonString})` : ""}`, e.reasonCode)
              : new Failure(`Connection error: ${connackText(e.returnCode)}`, e.returnCode || Exit.Failure),
          );
        else if (e.code === "ServerDisconnect" || e.code === "PublishRefused") this.say(`Error: ${e.message}`);
        // closed after CONNECT, before any CONNACK: mosquitto_pub ends as on a lost connection, mosquitto_sub tries again
        else if (e.code === "NoConnack" && this.lo.lost === "fatal") this.fail(new Failure("Error: The connection was lost.", Exit.ConnectionLost));
        else if (e.code === "NoConnack") this.debug(`Client ${this.clientId} ${e.message}; reconnecting`);
        else if (!this.everConnected) this.fail(new Failure(`Connection error: ${e.message}`));
        else if (e.code !== "SubscriptionRefused") /* the SUBACK reports those */ this.debug(`Client ${this.clientId} error: ${e.message} (${e.code})`);
        break;
      case "delivered":
        this.lo.onDelivered?.(e.token);
        break;
      case "message":
        this.lo.onMessage?.({ topic: e.topic, payload: bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length) : Buffer.alloc(0), qos: e.qos, retain: e.retain, packetId: e.packetId, more: e.more, offset: e.offset });
        break;
      case "released":
        this.lo.onReleased?.(e.packetId);
        break;
      case "suback":
        this.lo.onSuback?.(e.filter, e.granted);
        break;
    }
    this.changed();
  }
}
