/**
 * Drives clients from JSON commands and reports their callbacks as JSON events. Plain
 * ECMAScript over the client and a Platform: the same compiled file runs on Node (with the
 * Node platform) and inside XS (with the xsnap platform, driver-xs-entry.ts), so one test
 * suite, the CLI and the soak tool drive either engine the same way (see engine.ts).
 * Payloads travel as bytes: `publishBytes` takes them as its last argument and message
 * events carry them beside the JSON.
 */
import { MqttClient, type ClientOptions, type PublishOptions } from "../../src/mqtt/client.js";
import { MqttError } from "../../src/mqtt/errors.js";
import type { Message } from "../../src/mqtt/message.js";
import type { Platform } from "../../src/mqtt/platform.js";
import { propertiesToObject } from "../inspect.js";

/** Reports an event; `bytes` (a received payload) is a view valid during the call only. */
export type DriverEmit = (event: object, bytes?: Uint8Array) => void;

/** Client options as JSON: binary fields (will payload, password) as hex. */
export type DriverOptions = Omit<ClientOptions, "will" | "password" | `on${string}`> & {
  will?: { topic: string; payload: string; qos: number; retain: boolean; properties?: Record<string, unknown> } | null;
  password?: string | null;
  /** Report every message event (default) or only count them. */
  quiet?: boolean;
  /** Added to the platform clock, to test a 32-bit clock that wraps during the run. */
  clockOffset?: number;
};

export type Payload = { hex: string } | { text: string } | { size: number };

/**
 * The bytes of a string of hex digits. Walks it with the string iterator, which is linear
 * in XS, where `charCodeAt(i)` walks from the start (XS keeps strings as UTF-8).
 */
function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  let n = 0;
  for (const ch of hex) {
    const v = parseInt(ch, 16);
    if (v !== v) throw new Error(`not a hex digit: "${ch}"`);
    if (n & 1) out[n >> 1] |= v;
    else out[n >> 1] = v << 4;
    n++;
  }
  if (n & 1) throw new Error(`hex has an odd number of digits (${n})`);
  return out;
}

function payloadOf(p: Payload): Uint8Array | string {
  if ("hex" in p) return fromHex(p.hex);
  if ("text" in p) return p.text;
  return new Uint8Array(p.size);
}

function errorOf(e: unknown): { code: string; name: string; message: string } {
  if (e instanceof MqttError) return { code: e.code, name: e.name, message: e.message };
  throw e;
}

/** An error event's fields: the code and message, and an MQTT 5 reason code and Reason String where the error has them. */
function errorFields(e: MqttError): Record<string, unknown> {
  const x = e as { returnCode?: number; reasonCode?: number; reasonString?: string | null };
  return { code: e.code, name: e.name, message: e.message, returnCode: x.returnCode, reasonCode: x.reasonCode, reasonString: x.reasonString };
}

export function makeDriver(platform: Platform, emit: DriverEmit) {
  const clients = new Map<string, MqttClient>();
  const get = (name: string) => {
    const c = clients.get(name);
    if (!c) throw new Error(`no client ${name}`);
    return c;
  };
  /** A message event; its payload goes beside it, as bytes. */
  const messageEvent = (type: string, client: string, m: Message, filter?: string) =>
    emit(
      {
        type,
        client,
        filter,
        topic: m.topic,
        qos: m.qos,
        retain: m.retain,
        dup: m.dup,
        packetId: m.packetId,
        more: m.more,
        offset: m.payloadOffset,
        length: m.payloadLength,
        properties: m.properties ? propertiesToObject(m.properties) : undefined,
      },
      m.data.subarray(m.payloadStart, m.payloadEnd),
    );

  return {
    create(name: string, options: DriverOptions): null {
      const { will, password, quiet, clockOffset, ...rest } = options;
      const p = clockOffset ? { ...platform, now: () => (platform.now() + clockOffset) >>> 0 } : platform;
      const o: ClientOptions = {
        ...rest,
        will: will ? { ...will, payload: fromHex(will.payload) } : null,
        password: password == null ? null : fromHex(password),
        onConnect: (sessionPresent, broker) => emit({ type: "connect", client: name, sessionPresent, port: broker.port }),
        onDisconnect: (error) => emit({ type: "disconnect", client: name, code: error?.code ?? null, message: error?.message ?? null, reasonCode: (error as { reasonCode?: number } | null)?.reasonCode }),
        onServerDisconnect: (reasonCode, reasonString) => emit({ type: "serverDisconnect", client: name, reasonCode, reasonString }),
        onDelivered: (token) => emit({ type: "delivered", client: name, token }),
        onDrop: (reason, token) => emit({ type: "drop", client: name, reason, token }),
        onReleased: (packetId) => emit({ type: "released", client: name, packetId }),
        onError: (error) => emit({ type: "error", client: name, ...errorFields(error) }),
        onMessage: quiet ? undefined : (m) => messageEvent("message", name, m),
      };
      clients.set(name, new MqttClient(o, p));
      return null;
    },
    connect(name: string): null {
      get(name).connect();
      return null;
    },
    publish(name: string, topic: string, payload: Payload, options?: PublishOptions) {
      try {
        return { token: get(name).publish(topic, payloadOf(payload), options) };
      } catch (e) {
        return { error: errorOf(e) };
      }
    },
    /** Publishes `payload`, given as bytes (the last argument, so that it crosses into XS as bytes). */
    publishBytes(name: string, topic: string, options: PublishOptions | undefined, payload: Uint8Array) {
      try {
        return { token: get(name).publish(topic, payload, options) };
      } catch (e) {
        return { error: errorOf(e) };
      }
    },
    /** Publishes `count` messages numbered from `first` ("<prefix><n>" as text); returns tokens and any error. */
    publishMany(name: string, topic: string, prefix: string, first: number, count: number, options?: PublishOptions) {
      const tokens: number[] = [];
      for (let i = 0; i < count; i++) {
        try {
          tokens.push(get(name).publish(topic, prefix + (first + i), options));
        } catch (e) {
          return { tokens, error: errorOf(e) };
        }
      }
      return { tokens };
    },
    subscribe(name: string, filter: string, qos = 0, withHandler = false, v5?: { nl?: boolean; rap?: boolean; rh?: number }) {
      try {
        get(name).subscribe(filter, {
          ...v5,
          qos,
          handler: withHandler ? (m) => messageEvent("handler", name, m, filter) : null,
          done: (error, granted) => emit({ type: "suback", client: name, filter, granted, code: error?.code ?? null, message: error?.message ?? null }),
        });
        return { ok: true };
      } catch (e) {
        return { error: errorOf(e) };
      }
    },
    /**
     * Subscribes `filter`; when it is refused, its callback subscribes each of `fallbacks`, as
     * an application falling back to explicit topics would (a subscribe from inside the callback).
     */
    subscribeOr(name: string, filter: string, qos: number, fallbacks: string[]) {
      const c = get(name);
      const done = (f: string) => (error: MqttError | null, granted: number) => emit({ type: "suback", client: name, filter: f, granted, code: error?.code ?? null, message: error?.message ?? null });
      try {
        c.subscribe(filter, {
          qos,
          done: (error, granted) => {
            done(filter)(error, granted);
            if (error) for (const f of fallbacks) c.subscribe(f, { qos, done: done(f) });
          },
        });
        return { ok: true };
      } catch (e) {
        return { error: errorOf(e) };
      }
    },
    unsubscribe(name: string, filter: string) {
      try {
        get(name).unsubscribe(filter, (error) => emit({ type: "unsuback", client: name, filter, code: error?.code ?? null, message: error?.message ?? null }));
        return { ok: true };
      } catch (e) {
        return { error: errorOf(e) };
      }
    },
    close(name: string, reasonCode?: number): null {
      clients.get(name)?.close(reasonCode);
      return null;
    },
    /** What the MQTT 5 broker announced in its last CONNACK (null under 3.1.1). */
    server(name: string) {
      return get(name).server;
    },
    stats(name: string) {
      const c = get(name);
      return { ...c.stats, queued: c.queued, queuedBytes: c.queuedBytes, inflight: c.inflight, connected: c.connected };
    },
  };
}

export type Driver = ReturnType<typeof makeDriver>;
