/**
 * Home Assistant MQTT discovery: one retained config per value a sensor produces, at
 * `<prefix>/sensor/<node>/<object>/config`, so that the device and its entities appear in
 * Home Assistant by themselves (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery,
 * https://www.home-assistant.io/integrations/sensor.mqtt/).
 *
 * - The configs are sent after every connect, again after a random 0-5 s when Home
 *   Assistant's birth message (`<prefix>/status` = `online`) comes, and again when the
 *   interval (and so `expire_after`) changes.
 * - They go one at a time, each only when the client's outbox is empty: the next when the
 *   broker has acknowledged the one before and the readings queued meanwhile are out. So
 *   a config (≤ {@link CONFIG_PACKET_LIMIT} bytes) never makes the outbox drop a reading,
 *   even a small one, and a board with many values never crowds the readings out; after
 *   an outage the configs wait until the backlog of readings is delivered.
 * - The config topics sent are recorded in the settings storage ({@link ANNOUNCED_KEY})
 *   before they are sent. At each connect, a recorded topic the device no longer announces
 *   (discovery turned off, another prefix or device id) is cleared with an empty retained
 *   payload, which makes Home Assistant remove the entity; it leaves the record once the
 *   broker has acknowledged that. A restart in between only means it is cleared again.
 *
 * Pure ECMAScript: the only timer is the board's.
 */
import type { MqttClient } from "../mqtt/client.js";
import type { Platform, Timer } from "../mqtt/platform.js";
import { utf8Length } from "../mqtt/utf8.js";
import type { Storage } from "./board.js";

/** The default discovery prefix, Home Assistant's. */
export const DEFAULT_DISCOVERY_PREFIX = "homeassistant";

/** The storage key holding the config topics announced and not yet cleared, one per line. */
export const ANNOUNCED_KEY = "discovered";
/** The storage key holding the fingerprint of the configs last announced in full (battery mode sends them only when it changes). */
export const SUM_KEY = "discosum";

/** FNV-1a (32 bits) over the configs' topics and payloads, as 8 hex digits. */
function fingerprint(configs: readonly { topic: string; payload: string }[]): string {
  let h = 0x811c9dc5;
  for (const c of configs)
    for (const s of [c.topic, c.payload])
      for (let i = 0; i < s.length; i++) {
        h ^= s.charCodeAt(i);
        h = Math.imul(h, 0x01000193) >>> 0;
      }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/**
 * Largest config PUBLISH packet sent, in bytes (header, topic, packet id, payload). A
 * config enters the client's outbox only when it is empty, so it must fit the client's
 * largest PUBLISH (the outbox less a 12-byte entry header); at 1,024 an outbox of 4,096
 * bytes still takes the readings window (8 of about 120 bytes), the status (about 300)
 * and a command result beside the config being sent and one left from before a
 * reconnect. The largest config of any board is 881 bytes with a 32-character device id
 * (host-test/discovery.test.ts); longer ids or prefixes that push one past this are
 * refused (logged), never sent to crowd out readings.
 */
export const CONFIG_PACKET_LIMIT = 1024;

/** Longest wait after Home Assistant's birth message before announcing, in ms. */
export const BIRTH_DELAY_MAX = 5000;

/** Wait before announcing again after a config was dropped from a full outbox, in ms. */
const RETRY_DELAY = 5000;

/** `expire_after` never below this (s): longer than the 45 s after which the broker gives up a silent connection. */
export const EXPIRE_AFTER_MIN = 60;

/** How Home Assistant sees each quantity the drivers produce (src/platform/moddable/hardware.ts, boards/host.ts). */
export const QUANTITIES: { readonly [quantity: string]: { readonly label: string; readonly deviceClass: string; readonly unit: string } } = {
  temperature: { label: "Temperature", deviceClass: "temperature", unit: "°C" },
  humidity: { label: "Humidity", deviceClass: "humidity", unit: "%" },
  pressure: { label: "Pressure", deviceClass: "pressure", unit: "hPa" },
};

/** What the configs are made from. */
export interface DiscoveryInput {
  /** Discovery prefix, or null when discovery is off (then every config announced before is cleared). */
  prefix: string | null;
  deviceId: string;
  /** Board name, e.g. "esp32/nodemcu": the device's model. */
  board: string;
  firmware: string;
  /** The retained status topic: {"state":"online",...} or {"state":"offline"}. */
  statusTopic: string;
  /** Milliseconds between readings. */
  interval: number;
  /** Each sensor's readings topic and the quantities it produces, with their decimals. */
  sensors: readonly { name: string; topic: string; decimals: { readonly [quantity: string]: number } }[];
}

/** One discovery message. */
export interface DiscoveryConfig {
  topic: string;
  payload: string;
  /** The `<object>` level of the topic. */
  objectId: string;
}

/** A topic level Home Assistant accepts as node or object id: `[a-zA-Z0-9_-]+`. */
export function topicId(s: string): string {
  const id = s.replace(/[^A-Za-z0-9_-]/g, "_");
  return id === "" ? "_" : id;
}

/** Seconds after which Home Assistant shows a value as unavailable: three intervals, at least {@link EXPIRE_AFTER_MIN}. */
export function expireAfter(interval: number): number {
  return Math.max(EXPIRE_AFTER_MIN, Math.ceil((3 * interval) / 1000));
}

/** Bytes of the QoS 1 PUBLISH packet carrying `c` (MQTT 3.1.1 §3.3). */
export function configPacketSize(c: { topic: string; payload: string }): number {
  const remaining = 2 + utf8Length(c.topic) + 2 + utf8Length(c.payload);
  let lengthBytes = 1;
  for (let n = remaining; n > 127; n = Math.floor(n / 128)) lengthBytes++;
  return 1 + lengthBytes + remaining;
}

/**
 * The configs for every quantity of every sensor; none when discovery is off. Object id
 * `<sensor>_<quantity>` (just `<quantity>` for a sensor named after it), stable when the
 * board gains a sensor; the entity name is the quantity's label, with the sensor's name
 * added when two sensors produce the same quantity ("Temperature (pressure)").
 */
export function discoveryConfigs(d: DiscoveryInput): DiscoveryConfig[] {
  if (d.prefix === null) return [];
  const node = topicId(d.deviceId);
  const count: { [quantity: string]: number } = {};
  for (const s of d.sensors) for (const q in s.decimals) count[q] = (count[q] ?? 0) + 1;
  const device = { identifiers: [d.deviceId], name: d.deviceId, model: d.board, manufacturer: "xsmqtt", sw_version: d.firmware };
  const availability = [{ topic: d.statusTopic, value_template: "{{ value_json.state }}", payload_available: "online", payload_not_available: "offline" }];
  const origin = { name: "xsmqtt", sw_version: d.firmware };
  const expire = expireAfter(d.interval);
  const out: DiscoveryConfig[] = [];
  for (const s of d.sensors) {
    for (const q in s.decimals) {
      const known = QUANTITIES[q];
      const objectId = topicId(s.name === q ? q : `${s.name}_${q}`);
      const label = known ? known.label : q;
      const config: { [key: string]: unknown } = {
        name: count[q] > 1 ? `${label} (${s.name})` : label,
        unique_id: `${node}_${objectId}`,
        state_topic: s.topic,
        // a failed sensor's reading ({"t":…,"error":"no answer"}) renders "None": Home Assistant shows the value as unknown
        value_template: `{{ value_json.${q} | default(None) }}`,
      };
      if (known) {
        config.device_class = known.deviceClass;
        config.unit_of_measurement = known.unit;
      }
      config.state_class = "measurement";
      config.suggested_display_precision = s.decimals[q];
      config.expire_after = expire;
      config.availability = availability;
      config.device = device;
      config.origin = origin;
      out.push({ topic: `${d.prefix}/sensor/${node}/${objectId}/config`, payload: JSON.stringify(config), objectId });
    }
  }
  return out;
}

const RETAINED = { qos: 1, retain: true };
const NONE = -1;

/**
 * Sends the configs and clears the stale ones, one message at a time (see the module
 * comment). The app tells it about connections, deliveries, drops and Home Assistant's
 * status messages; `describe` gives the current input each time it announces.
 */
export class Discovery {
  private client: MqttClient | null = null;
  private queue: { topic: string; payload: string }[] = [];
  /** Announcing: from the start of a round until its last message is delivered and the record written. */
  private announcing = false;
  private token = NONE;
  /** The topics to record once the queue is done: wanted ones and clearings that failed. */
  private keep: string[] = [];
  /** The fingerprint of the round under way. */
  private sum = "";
  private readonly timer: Timer;

  constructor(
    private readonly storage: Storage,
    private readonly platform: Platform,
    private readonly describe: () => DiscoveryInput,
    private readonly log: (message: string) => void,
  ) {
    this.timer = platform.timer(() => this.announce());
  }

  /**
   * A connection is up: announce now. `quiet` (battery mode, after a timer wake): only when
   * the configs differ from the ones last announced in full (their fingerprint is kept
   * with the record), so a sleeping sensor does not send them at every wake.
   */
  connected(client: MqttClient, quiet = false): void {
    this.client = client;
    this.timer.clear();
    this.announce(quiet);
  }

  /** A round of configs is under way (battery mode waits for it before sleeping). */
  get busy(): boolean {
    return this.announcing;
  }

  /** A message on `<prefix>/status`: Home Assistant's birth message is `online`. */
  status(payload: string): void {
    if (payload.trim() !== "online") return;
    const r = this.platform.random ? this.platform.random() : Math.random();
    this.timer.set(Math.floor(r * BIRTH_DELAY_MAX));
  }

  /** Something the configs carry changed (the interval): announce again. */
  changed(): void {
    this.timer.clear();
    this.announce();
  }

  /** The client's onDelivered, for every message: the outbox may be empty now. */
  delivered(token: number): void {
    if (token === this.token) this.token = NONE;
    if (this.token === NONE && this.announcing) this.next(); // more to send, or the record to update
  }

  /** The client's onDrop "queue-full": a config dropped from the outbox is sent again later, with all the others. */
  dropped(token: number): void {
    if (token !== this.token) return;
    this.token = NONE;
    this.queue = [];
    this.announcing = false;
    this.timer.set(RETRY_DELAY);
  }

  stop(): void {
    this.timer.clear();
    this.client = null;
    this.queue = [];
    this.token = NONE;
    this.announcing = false;
  }

  /** Starts over: the stale topics cleared, then every config (none, when `quiet` and nothing changed). */
  private announce(quiet = false): void {
    const client = this.client;
    if (client === null || !client.connected) return;
    const configs = discoveryConfigs(this.describe());
    const wanted = configs.map((c) => c.topic);
    const recorded = this.recorded();
    const stale = recorded.filter((t) => wanted.indexOf(t) < 0);
    const sum = fingerprint(configs);
    if (quiet && stale.length === 0 && recorded.length === wanted.length && this.storage.get(SUM_KEY) === sum) return;
    this.sum = sum;
    // recorded before it is sent: a config on the broker is always on the list
    this.record(stale.concat(wanted));
    this.keep = wanted;
    this.queue = stale.map((topic) => ({ topic, payload: "" }));
    for (const c of configs) this.queue.push(c);
    this.token = NONE;
    this.announcing = true;
    this.next();
  }

  private next(): void {
    const client = this.client;
    while (client !== null && this.queue.length > 0) {
      if (client.queued > 0) return; // readings first: on with the next delivery
      const m = this.queue.shift()!;
      const size = configPacketSize(m);
      if (size > CONFIG_PACKET_LIMIT) {
        this.log(`discovery: ${m.topic} not sent: ${size} bytes, over the ${CONFIG_PACKET_LIMIT}-byte budget (shorten the device id)`);
        continue;
      }
      try {
        this.token = client.publish(m.topic, m.payload, RETAINED);
        return;
      } catch (e) {
        this.token = NONE;
        if (m.payload === "") this.keep.push(m.topic);
        this.log(`discovery: ${m.topic} not sent: ${(e as Error).message}`);
      }
    }
    if (client !== null && this.token === NONE) {
      this.announcing = false;
      this.record(this.keep);
      if (this.storage.get(SUM_KEY) !== this.sum) this.storage.set(SUM_KEY, this.sum);
    }
  }

  private recorded(): string[] {
    const v = this.storage.get(ANNOUNCED_KEY);
    return v === undefined || v === "" ? [] : v.split("\n");
  }

  /** Stores `topics` (only when they differ: flash wears). */
  private record(topics: string[]): void {
    const v = topics.join("\n");
    if (v === (this.storage.get(ANNOUNCED_KEY) ?? "")) return;
    if (v === "") this.storage.delete(ANNOUNCED_KEY);
    else this.storage.set(ANNOUNCED_KEY, v);
  }
}
