/**
 * The sensor firmware. Joins the network, connects to the broker with a retained
 * "offline" will, announces itself with a retained "online" status, then every interval
 * samples each sensor and publishes one reading. Every reading goes into the journal on
 * flash (journal.ts) before it is published and stays there until the broker has it, so
 * readings taken while the network or the broker is down, or before a reboot or a power
 * cut, go out after reconnect with their sample times; when the budget is full the oldest
 * are dropped and counted, across reboots too.
 *
 * Topics (see README, "Topics and payloads"):
 *   <prefix>/<deviceId>/<sensor>   readings, JSON: {"t":<ms since 1970>,"n":<seq>,"temperature":21.5,...}
 *                                  ("up":<ms since start> instead of "t" until the clock is set;
 *                                  "n" counts readings across reboots: a gap is a counted drop)
 *   <prefix>/<deviceId>/status     retained: {"state":"online",...counters} / {"state":"offline"}
 *   <prefix>/<deviceId>/cmd        commands in: {"cmd":"interval","value":5000} | {"cmd":"sample"}
 *                                  | {"cmd":"status"} | {"cmd":"restart"}
 *   <prefix>/<deviceId>/cmd/result command results out: {"cmd":...,"ok":true} or {"ok":false,"error":...}
 */
import { MqttClient, type PublishOptions } from "../mqtt/client.js";
import type { MqttError } from "../mqtt/errors.js";
import type { Message } from "../mqtt/message.js";
import { Prop } from "../mqtt/properties.js";
import type { Timer } from "../mqtt/platform.js";
import type { Board, Sample, Sensor } from "./board.js";
import { checkSetting, isSetting, resolveConfig, type AppConfig, type BuildConfig } from "./config.js";
import { ANNOUNCED_KEY, Discovery, SUM_KEY, type DiscoveryInput } from "./discovery.js";
import { Journal, MemoryFiles } from "./journal.js";
import { JsonWriter } from "./json.js";
import { utf8Length, writeUtf8 } from "../mqtt/utf8.js";

/** Publish options, made once: readings and command results at the configured QoS; the retained status. */
const AT_QOS: readonly PublishOptions[] = [{ qos: 0 }, { qos: 1 }, { qos: 2 }];
const STATUS: PublishOptions = { qos: 1, retain: true };

export const FIRMWARE_VERSION = "0.1.0";

/** The stored setting that keeps the readings' sequence number across reboots (not a user setting). */
export const SEQUENCE_KEY = "seq";
/** The stored setting naming the subscriptions the broker's session holds, one per line, for battery mode (not a user setting). */
export const SUBSCRIBED_KEY = "subscribed";

/** The firmware's own records in the settings storage: kept out of `keys`, never set by a user. */
export const INTERNAL_KEYS: readonly string[] = [SEQUENCE_KEY, SUBSCRIBED_KEY, ANNOUNCED_KEY, SUM_KEY];

/** Battery mode: ms between the DISCONNECT and the deep sleep, for it to leave the socket. */
const SLEEP_AFTER_DISCONNECT = 100;

export interface AppStats {
  samples: number;
  readings: number;
  sensorErrors: number;
  commands: number;
}

interface SensorSlot {
  sensor: Sensor;
  topic: string;
  /** The topic's UTF-8, as the journal stores it. */
  topicBytes: Uint8Array;
  sample: Sample;
}

function utf8(s: string): Uint8Array {
  const b = new Uint8Array(utf8Length(s));
  writeUtf8(b, 0, s);
  return b;
}

export class App {
  readonly stats: AppStats = { samples: 0, readings: 0, sensorErrors: 0, commands: 0 };
  config: AppConfig;
  client: MqttClient | null = null;
  /** Readings held until the broker has them; made at start. */
  journal: Journal | null = null;
  private readonly board: Board;
  private readonly build: BuildConfig;
  private readonly timer: Timer;
  private readonly restartTimer: Timer;
  /** Remakes the client in 3.1.1 after a broker refused 5.0 (from a timer: not inside the client's callback). */
  private readonly fallbackTimer: Timer;
  /** Brokers ("host:port") that refused MQTT 5.0: protocol "auto" speaks 3.1.1 to them until restart. */
  private readonly only311: string[] = [];
  /** The command being handled asked for its result at this Response Topic (MQTT 5), with this Correlation Data. */
  private replyTopic: string | null = null;
  private replyData: Uint8Array | null = null;
  /** Home Assistant discovery (discovery.ts). */
  private readonly discovery: Discovery;
  private readonly json = new JsonWriter(512);
  private slots: SensorSlot[] = [];
  private statusTopic = "";
  private commandTopic = "";
  private resultTopic = "";
  private started: number;
  private running = false;
  /** The last connection failure or loss, for the status. */
  private lastError = "";
  /** Battery mode (setting `sleep` > 0 on a board that can sleep): one wake, then deep sleep. */
  private battery = false;
  private statusSent = false;
  private sleeping = false;
  /** Subscriptions not yet answered by a SUBACK in this wake. */
  private unanswered = 0;
  private connectedAt = -1;
  private readonly awakeTimer: Timer;
  private readonly sleepTimer: Timer;

  constructor(board: Board, build: BuildConfig) {
    this.board = board;
    this.build = build;
    this.config = this.resolve(`xsmqtt-${board.definition.name.replace(/[^A-Za-z0-9]/g, "-")}`);
    this.timer = board.platform.timer(() => this.tick());
    this.restartTimer = board.platform.timer(() => this.board.restart());
    this.fallbackTimer = board.platform.timer(() => this.remake());
    this.awakeTimer = board.platform.timer(() => this.goToSleep(`not done within ${this.config.awake} ms`));
    this.sleepTimer = board.platform.timer(() => this.board.sleep?.(this.config.sleep * 1000));
    this.discovery = new Discovery(board.storage, board.platform, () => this.discoveryInput(), (m) => this.log(m));
    this.started = board.platform.now();
    board.terminal.onLine((line) => this.onConsoleLine(line));
  }

  /** Starts the network, the clock and the sampling loop; connects when the network is up. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const platform = this.board.platform;
    const storage = this.board.storage;
    this.journal = new Journal(
      this.board.files ?? new MemoryFiles(),
      {
        budget: this.config.outboxBytes,
        window: 8,
        // the sequence number lives in the settings (NVS): readings acknowledged within the grace never reach the file
        sequence: {
          load: () => Number(storage.get(SEQUENCE_KEY) ?? 0) || 0,
          save: (next) => storage.set(SEQUENCE_KEY, String(next)),
        },
      },
      (f) => platform.timer(f),
    );
    this.prepare();
    if (this.config.sleep > 0 && !this.board.sleep) this.log(`sleep ${this.config.sleep} ignored: this board cannot deep sleep`);
    this.battery = this.config.sleep > 0 && this.board.sleep !== undefined;
    if (this.battery) this.log(`xsmqtt ${FIRMWARE_VERSION} on ${this.board.definition.name}: device ${this.config.deviceId}, battery mode: one sample a wake, then ${this.config.sleep} s of deep sleep (woke: ${this.board.wake ?? "power-on"})`);
    else this.log(`xsmqtt ${FIRMWARE_VERSION} on ${this.board.definition.name}: device ${this.config.deviceId}, sampling every ${this.config.interval} ms`);
    const j = this.journal;
    if (j.stats.recovered > 0 || j.stats.tornBytes > 0)
      this.log(`journal: ${j.stats.recovered} readings held from before the restart${j.stats.tornBytes ? `, ${j.stats.tornBytes} bytes of a torn last write cut off` : ""}`);
    this.board.clock.start(() => this.log("clock synchronized"));
    this.board.network.start((status, detail) => {
      this.log(`network ${status}${detail ? ": " + detail : ""}`);
      if (this.running && status === "connected" && this.client && !this.client.connected) this.client.connect();
    });
    this.client = this.makeClient();
    j.attach(this.client, AT_QOS[this.config.qos]);
    if (this.battery) {
      // wake: sample (onto flash: not connected yet), then connect and send
      this.sampleAll();
      this.awakeTimer.set(this.config.awake); // the longest a wake may last: then it sleeps anyway, what is unsent held on flash
    }
    if (this.board.network.connected) this.client.connect();
    if (!this.battery) this.timer.set(this.config.interval);
  }

  /** Stops sampling and closes the connection (the broker keeps the retained status); the journal keeps what is held. */
  stop(): void {
    this.running = false;
    this.timer.clear();
    this.awakeTimer.clear();
    this.discovery.stop();
    this.client?.close();
    this.journal?.detach();
    this.journal?.close();
  }

  private prepare(): void {
    const { prefix, deviceId } = this.config;
    const base = `${prefix}/${deviceId}`;
    this.statusTopic = `${base}/status`;
    this.commandTopic = `${base}/cmd`;
    this.resultTopic = `${base}/cmd/result`;
    this.slots = this.board.sensors.map((sensor) => {
      const topic = `${base}/${sensor.name}`;
      return { sensor, topic, topicBytes: utf8(topic), sample: {} };
    });
    this.journal?.setTopics(
      this.slots.map((s) => s.topic),
      this.slots.map((s) => s.topicBytes),
    );
  }

  /** The MQTT version to speak: the setting's, or under "auto" 5.0 unless a configured broker refused it since start. */
  private version(): 4 | 5 {
    const c = this.config;
    if (c.protocol !== "auto") return c.protocol === "5" ? 5 : 4;
    for (const b of c.brokers) if (this.only311.indexOf(`${b.host}:${b.port}`) >= 0) return 4;
    return 5;
  }

  /**
   * Protocol "auto": whether `error`, from a 5.0 attempt, is a broker refusing the version (a
   * 3.1.1 CONNACK 0x01, a 5.0 CONNACK 0x84, or the connection closed before any CONNACK);
   * if so the broker is remembered, the client remade in 3.1.1, and true returned.
   */
  private refusedVersion(client: MqttClient, error: MqttError): boolean {
    if (this.config.protocol !== "auto" || client !== this.client || this.version() !== 5) return false;
    const e = error as MqttError & { returnCode?: number; reasonCode?: number };
    const refused = error.code === "ConnectionRefused" ? e.returnCode === 1 || e.reasonCode === 0x84 : error.code === "NoConnack";
    if (!refused) return false;
    const b = client.broker;
    this.only311.push(`${b.host}:${b.port}`);
    this.log(`${b.host}:${b.port} refused MQTT 5.0 (${error.message}): speaking 3.1.1 to it until restart`);
    this.fallbackTimer.set(0);
    return true;
  }

  /** The client again, as {@link version} now says (the journal's readings go to the new one). */
  private remake(): void {
    if (!this.running || this.sleeping) return;
    const client = this.makeClient();
    this.client?.close();
    this.client = client;
    this.journal?.attach(client, AT_QOS[this.config.qos]);
    if (this.board.network.connected) client.connect();
  }

  private makeClient(): MqttClient {
    const c = this.config;
    const version = this.version();
    const client: MqttClient = new MqttClient(
      {
        clientId: c.deviceId,
        brokers: c.brokers,
        clean: false,
        protocolVersion: version,
        // MQTT 5: the session outlives a sleep, and an abandoned one still ends; readings go under Topic Aliases (the client's own)
        ...(version === 5 ? { sessionExpiry: c.sessionExpiry } : {}),
        keepalive: 30,
        username: c.username,
        password: c.password,
        will: { topic: this.statusTopic, payload: '{"state":"offline"}', qos: 1, retain: true },
        // the journal is the offline queue: the client holds only the readings forwarded to it (a window), the status and command results
        outboxBytes: 4096,
        queuePolicy: "drop-oldest",
        inflightWindow: 8,
        receiveBufferSize: 512,
        reconnect: { min: 1000, max: 30000, jitter: 0.25 },
        onConnect: (sessionPresent, broker) => {
          this.log(`mqtt connected to ${broker.host}:${broker.port}${sessionPresent ? " (session resumed)" : ""}`);
          this.board.led?.(true);
          if (this.battery) {
            // readings first, the status once they are in; the configs only after a power-on or when they changed
            this.connectedAt = this.board.platform.now();
            this.journal?.forward();
            this.discovery.connected(client, this.board.wake === "timer");
            return this.settle();
          }
          this.publishStatus();
          this.journal?.forward();
          this.discovery.connected(client);
        },
        onDisconnect: (error) => {
          this.board.led?.(false);
          if (error) this.lastError = `${error.code}: ${error.message}`;
          this.journal?.persist(); // readings in flight are written now, not at the end of their grace
          this.log(`mqtt disconnected: ${error ? error.message : "closed"}`);
        },
        onError: (error: MqttError) => {
          // a broker refusing 5.0 under "auto" is a fallback, said as such, not an error to report in the status
          if (this.refusedVersion(client, error)) return;
          this.lastError = `${error.code}: ${error.message}`;
          this.log(`mqtt ${this.lastError}`);
        },
        onDelivered: (token) => {
          this.journal?.delivered(token);
          this.discovery.delivered(token);
          if (this.battery) this.settle();
        },
        // the journal holds every reading until the broker has it: a reading the client lets go of is forwarded again
        onDrop: (reason, token) => {
          if (reason !== "queue-full") return;
          if (this.journal?.returned(token)) return;
          this.log("client outbox full: its oldest message dropped");
          this.discovery.dropped(token);
        },
      },
      this.board.platform,
    );
    // the subscriptions a persistent session already holds are not sent again (battery mode: every wake is a new boot)
    const known = (this.board.storage.get(SUBSCRIBED_KEY) ?? "").split("\n");
    const wanted: string[] = [];
    const remember = () => {
      if (this.unanswered === 0 && known.join("\n") !== wanted.join("\n")) this.board.storage.set(SUBSCRIBED_KEY, wanted.join("\n"));
    };
    const subscribe = (filter: string, handler: (m: Message) => void) => {
      const isKnown = known.indexOf(filter) >= 0;
      wanted.push(filter);
      if (!isKnown) this.unanswered++;
      client.subscribe(filter, {
        qos: 1,
        handler,
        known: isKnown,
        done: (error) => {
          if (isKnown) return; // sent again because the session was lost: the record stays right
          this.unanswered--;
          if (!error) remember();
          if (this.battery) this.settle();
        },
      });
    };
    subscribe(this.commandTopic, (m) => this.onCommand(m));
    // Home Assistant's birth message: it (re)started and wants the configs
    if (c.discovery !== null) subscribe(`${c.discovery}/status`, (m) => this.discovery.status(m.text()));
    remember(); // a shorter list, all known
    return client;
  }

  /**
   * Battery mode: what is left of this wake. Readings first; then the status; then, once the
   * client has nothing left in flight (command results, configs) and every subscription is
   * answered, a clean DISCONNECT and the deep sleep.
   */
  private settle(): void {
    const client = this.client;
    const j = this.journal;
    if (!this.battery || this.sleeping || !client || !j || !client.connected) return;
    if (j.queued > 0) return;
    if (!this.statusSent) {
      this.statusSent = true;
      this.publishStatus();
    }
    if (client.queued > 0 || this.discovery.busy || this.unanswered > 0) return;
    this.goToSleep("done");
  }

  /** Battery mode: DISCONNECT (so the broker keeps the will to itself), then deep sleep. What was not sent stays on flash. */
  private goToSleep(why: string): void {
    if (this.sleeping) return;
    this.sleeping = true;
    const now = this.board.platform.now();
    const awake = (now - this.started) >>> 0;
    const connect = this.connectedAt >= 0 ? `, connected after ${(this.connectedAt - this.started) >>> 0} ms` : ", never connected";
    const j = this.journal;
    this.log(`awake ${awake} ms${connect} (${why}); ${j ? j.queued : 0} readings held; sleeping ${this.config.sleep} s`);
    this.running = false;
    this.timer.clear();
    this.awakeTimer.clear();
    this.discovery.stop();
    this.client?.close();
    j?.detach();
    j?.close();
    this.sleepTimer.set(SLEEP_AFTER_DISCONNECT);
  }

  private tick(): void {
    if (!this.running) return;
    this.sampleAll();
    this.timer.set(this.config.interval);
  }

  /** Samples every sensor, puts one reading each into the journal (one flash write for all), and forwards them. */
  sampleAll(): void {
    this.stats.samples++;
    const j = this.journal;
    if (!j) return;
    for (const slot of this.slots) this.takeReading(slot, j);
    j.commit();
    j.forward();
  }

  private takeReading(slot: SensorSlot, journal: Journal): void {
    const w = this.json.reset().raw("{");
    const t = this.board.clock.now();
    if (t >= 0) w.raw('"t":').number(t, 0);
    else w.raw('"up":').number((this.board.platform.now() - this.started) >>> 0, 0);
    w.raw(',"n":').number(journal.nextSeq, 0);
    let ok = false;
    try {
      ok = slot.sensor.sample(slot.sample);
    } catch {
      ok = false;
    }
    if (ok) {
      const s = slot.sample;
      const decimals = slot.sensor.decimals;
      for (const key in s) w.raw(',"').raw(key).raw('":').number(s[key], decimals?.[key] ?? 2);
    } else {
      this.stats.sensorErrors++;
      w.raw(',"error":"no answer"');
      this.log(`sensor ${slot.sensor.name} did not answer`);
    }
    w.raw("}");
    const before = journal.stats.dropped;
    journal.take(slot.topicBytes, w.view());
    if (journal.stats.dropped > before) this.log(`reading budget full: ${journal.stats.dropped - before} oldest reading dropped (${journal.stats.dropped} in all)`);
    this.stats.readings++;
  }

  private publish(topic: string, payload: Uint8Array | string): void {
    const client = this.client;
    if (!client) return;
    try {
      client.publish(topic, payload, AT_QOS[this.config.qos]);
    } catch (e) {
      this.log(`publish to ${topic} failed: ${(e as Error).message}`);
    }
  }

  /** The retained status, with the counters a fleet operator watches. */
  statusJson(): string {
    const c = this.client;
    const s = c?.stats;
    const j = this.journal;
    return JSON.stringify({
      state: "online",
      fw: FIRMWARE_VERSION,
      board: this.board.definition.name,
      interval: this.config.interval,
      up: (this.board.platform.now() - this.started) >>> 0,
      samples: this.stats.samples,
      readings: this.stats.readings,
      sensorErrors: this.stats.sensorErrors,
      // why the last connection ended or an attempt failed (a TLS refusal says which check failed)
      ...(this.lastError ? { lastError: this.lastError } : {}),
      taken: j ? j.stats.taken : 0,
      queued: j ? j.queued : 0,
      dropped: j ? j.stats.dropped : 0,
      reconnects: s && s.connects > 0 ? s.connects - 1 : 0,
      ...(this.battery ? { sleep: this.config.sleep, wake: this.board.wake ?? "power-on" } : {}),
    });
  }

  publishStatus(): void {
    const client = this.client;
    if (!client) return;
    try {
      client.publish(this.statusTopic, this.statusJson(), STATUS);
    } catch (e) {
      this.log(`status publish failed: ${(e as Error).message}`);
    }
  }

  private onCommand(m: Message): void {
    this.stats.commands++;
    // MQTT 5 request/response: the result goes to the Response Topic, with the Correlation Data
    const p = m.properties;
    this.replyTopic = p !== null ? (p.text(Prop.ResponseTopic) ?? null) : null;
    const data = p !== null ? p.bytes(Prop.CorrelationData) : undefined;
    this.replyData = data === undefined ? null : data.slice();
    try {
      this.command(m);
    } finally {
      this.replyTopic = this.replyData = null;
    }
  }

  private command(m: Message): void {
    let cmd: { cmd?: unknown; value?: unknown };
    try {
      cmd = JSON.parse(m.text());
    } catch {
      return this.result({ ok: false, error: "command is not JSON" });
    }
    switch (cmd.cmd) {
      case "interval": {
        const v = String(cmd.value);
        const err = checkSetting("interval", v);
        if (err) return this.result({ cmd: "interval", ok: false, error: err });
        this.config.interval = Number(v);
        this.board.storage.set("interval", v);
        this.timer.set(this.config.interval);
        this.result({ cmd: "interval", ok: true, value: this.config.interval });
        this.discovery.changed(); // expire_after follows the interval
        return this.publishStatus();
      }
      case "sample":
        this.sampleAll();
        return this.result({ cmd: "sample", ok: true });
      case "status":
        this.publishStatus();
        return this.result({ cmd: "status", ok: true });
      case "restart":
        this.result({ cmd: "restart", ok: true });
        // after this handler returns, so that the command's PUBACK goes out first: otherwise the
        // broker sends the command again to the next start (persistent session), which restarts again
        return this.restartTimer.set(200);
      default:
        return this.result({ ok: false, error: `unknown command ${JSON.stringify(cmd.cmd)}` });
    }
  }

  private result(r: object): void {
    const to = this.replyTopic;
    if (to === null) return this.publish(this.resultTopic, JSON.stringify(r));
    const client = this.client;
    if (!client) return;
    try {
      client.publish(to, JSON.stringify(r), { qos: this.config.qos, properties: this.replyData === null ? {} : { correlationData: this.replyData } });
    } catch (e) {
      this.log(`command result to ${to} failed: ${(e as Error).message}`);
    }
  }

  /**
   * The serial console's line protocol (what `xsmqtt provision` speaks):
   *   set <key> <value>  → ok <key> | error <reason>     (stored in preferences)
   *   get <key>          → value <key> <value> | error <reason>  (passwords are never echoed)
   *   keys               → keys <k1> <k2> …
   *   status             → status <json>
   *   apply              → ok apply  (reconnects with the stored settings)
   *   restart            → ok restart
   */
  onConsoleLine(raw: string): void {
    const line = raw.trim();
    if (line === "") return;
    const space = line.indexOf(" ");
    const verb = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? "" : line.slice(space + 1).trim();
    const out = (s: string) => this.board.terminal.write(s);
    switch (verb) {
      case "set": {
        const sp = rest.indexOf(" ");
        const key = sp < 0 ? rest : rest.slice(0, sp);
        const value = sp < 0 ? "" : rest.slice(sp + 1).trim();
        const err = value === "" ? "set needs a key and a value" : checkSetting(key, value);
        if (err) return out(`error ${err}`);
        this.board.storage.set(key, value);
        return out(`ok ${key}`);
      }
      case "get": {
        if (!isSetting(rest)) return out(`error unknown setting "${rest}"`);
        const v = this.board.storage.get(rest);
        if (v === undefined) return out(`error ${rest} is not set`);
        return out(`value ${rest} ${rest === "pass" || rest === "wifipass" ? "********" : v}`);
      }
      case "keys":
        return out(`keys ${this.board.storage.keys().filter((k) => INTERNAL_KEYS.indexOf(k) < 0).join(" ")}`);
      case "status":
        return out(`status ${this.statusJson()}`);
      case "apply": {
        const err = this.apply();
        return out(err ? `error ${err}` : "ok apply");
      }
      case "restart":
        out("ok restart");
        return this.board.restart();
      case "help":
        return out("commands: set <key> <value> | get <key> | keys | status | apply | restart");
      default:
        return out(`error unknown command "${verb}"`);
    }
  }

  /** Build config and stored settings, with what MQTT cannot send left out and said so. */
  private resolve(fallbackId: string): AppConfig {
    const config = resolveConfig(this.build, this.board.storage, fallbackId);
    if (config.password !== null && config.username === null) {
      this.log("password ignored: MQTT 3.1.1 sends a password only with a user name (set user)");
      config.password = null;
    }
    return config;
  }

  /**
   * Takes stored settings into effect: a new session with the (maybe new) broker and
   * identity. Returns an error message, and keeps the old session, if they cannot work.
   */
  apply(): string | null {
    const previous = { config: this.config, slots: this.slots, topics: [this.statusTopic, this.commandTopic, this.resultTopic] };
    let client: MqttClient;
    try {
      this.config = this.resolve(this.config.deviceId);
      this.prepare();
      client = this.makeClient();
    } catch (e) {
      this.config = previous.config;
      this.slots = previous.slots;
      [this.statusTopic, this.commandTopic, this.resultTopic] = previous.topics;
      return (e as Error).message;
    }
    this.client?.close();
    this.client = client;
    this.journal?.attach(client, AT_QOS[this.config.qos]);
    if (this.running && this.board.network.connected) client.connect();
    if (this.running) this.timer.set(this.config.interval);
    this.log(`settings applied: broker ${this.config.brokers.map((b) => `${b.host}:${b.port}`).join(", ")}`);
    return null;
  }

  /** What Home Assistant is told about this device (discovery.ts). */
  private discoveryInput(): DiscoveryInput {
    const c = this.config;
    return {
      prefix: c.discovery,
      deviceId: c.deviceId,
      board: this.board.definition.name,
      firmware: FIRMWARE_VERSION,
      statusTopic: this.statusTopic,
      // a sleeping sensor reads once a wake: its values expire after three sleeps, not three intervals
      interval: this.battery ? c.sleep * 1000 : c.interval,
      sensors: this.slots.map((s) => ({ name: s.sensor.name, topic: s.topic, decimals: s.sensor.decimals ?? {} })),
    };
  }

  private log(message: string): void {
    this.board.terminal.write(`# ${message}`);
  }
}

/** Creates and starts the firmware on `board`. */
export function startApp(board: Board, config: BuildConfig = {}): App {
  const app = new App(board, config);
  app.start();
  return app;
}
