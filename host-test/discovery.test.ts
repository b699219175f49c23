/**
 * Home Assistant MQTT discovery (src/app/discovery.ts): every config the firmware sends is
 * checked against Home Assistant's documented MQTT sensor schema
 * (https://www.home-assistant.io/integrations/sensor.mqtt/, .../integrations/mqtt/#mqtt-discovery,
 * and the sensor device classes' units, .../integrations/sensor/#device-class), and its
 * templates are rendered, by a tiny evaluator of exactly the Jinja forms we emit, over the
 * readings and status the firmware really published. Per board: the configs of every
 * board's sensors fit the packet budget. Per engine, against mosquitto: the configs
 * after connect, again on Home Assistant's birth message, again when the interval
 * changes, and removed when discovery is turned off (apply, or the next start).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import mqtt from "mqtt";
import type { BoardDefinition } from "../src/app/board.js";
import type { BuildConfig } from "../src/app/config.js";
import { CONFIG_PACKET_LIMIT, configPacketSize, discoveryConfigs, expireAfter, type DiscoveryInput } from "../src/app/discovery.js";
import { FIRMWARE_VERSION } from "../src/app/app.js";
import { ENTRY_HEADER } from "../src/mqtt/outbox.js";
import { startMosquitto, type Mosquitto } from "../tools/runtime/brokers.js";
import { startEngine } from "../tools/runtime/engine.js";
import { appModule } from "../tools/runtime/modules.js";
import { ENGINES } from "./engines.js";
import { requireMosquitto } from "./needs.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- Home Assistant's MQTT sensor schema, as documented -------------------------------

/** Every option the MQTT sensor platform documents (an unknown key is a typo HA would drop). */
const SENSOR_KEYS = new Set([
  "availability", "availability_mode", "availability_template", "availability_topic", "default_entity_id", "device", "device_class",
  "enabled_by_default", "encoding", "entity_category", "entity_picture", "expire_after", "force_update", "icon", "json_attributes_template",
  "json_attributes_topic", "last_reset_value_template", "name", "object_id", "options", "origin", "payload_available", "payload_not_available",
  "platform", "qos", "state_class", "state_topic", "suggested_display_precision", "unique_id", "unit_of_measurement", "value_template",
]);
/** What the issue asks every config to carry besides the required state_topic. */
const RECOMMENDED = ["name", "unique_id", "value_template", "device_class", "unit_of_measurement", "state_class", "expire_after", "availability", "device"];
/** Units HA's sensor device classes accept (integrations/sensor/#device-class), for the classes our quantities use. */
const UNITS: Record<string, string[]> = {
  temperature: ["°C", "°F", "K"],
  humidity: ["%"],
  pressure: ["cbar", "bar", "hPa", "mmHg", "inHg", "kPa", "mbar", "Pa", "psi"],
  atmospheric_pressure: ["cbar", "bar", "hPa", "mmHg", "inHg", "kPa", "mbar", "Pa", "psi"],
};
/** Our quantities and the class/unit each must be announced with (one choice for pressure, kept everywhere). */
const EXPECTED: Record<string, { device_class: string; unit: string }> = {
  temperature: { device_class: "temperature", unit: "°C" },
  humidity: { device_class: "humidity", unit: "%" },
  pressure: { device_class: "pressure", unit: "hPa" },
};
const DEVICE_KEYS = new Set(["configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model", "model_id", "name", "serial_number", "suggested_area", "sw_version", "via_device"]);
const AVAILABILITY_KEYS = new Set(["topic", "payload_available", "payload_not_available", "value_template"]);
const ORIGIN_KEYS = new Set(["name", "sw_version", "support_url"]);

const isString = (v: unknown): v is string => typeof v === "string";
const isTopic = (v: unknown): v is string => isString(v) && v.length > 0 && !/[+#]/.test(v);

/** The problems HA's schema finds in one discovery message (topic and payload); empty when valid. */
function schemaProblems(topic: string, payload: string): string[] {
  const p: string[] = [];
  const m = /^(.+)\/sensor\/([a-zA-Z0-9_-]+)\/([a-zA-Z0-9_-]+)\/config$/.exec(topic);
  if (!m) p.push(`topic ${topic} is not <prefix>/sensor/<node_id>/<object_id>/config with ids of [a-zA-Z0-9_-]`);
  let c: Record<string, any>;
  try {
    c = JSON.parse(payload);
  } catch {
    return [...p, "payload is not JSON"];
  }
  if (c === null || typeof c !== "object" || Array.isArray(c)) return [...p, "payload is not a JSON object"];
  for (const k of Object.keys(c)) if (!SENSOR_KEYS.has(k)) p.push(`unknown key ${k}`);
  if (!isTopic(c.state_topic)) p.push("state_topic (required) is not a topic");
  for (const k of RECOMMENDED) if (!(k in c)) p.push(`missing ${k}`);
  for (const k of ["name", "unique_id", "value_template", "device_class", "unit_of_measurement"]) if (k in c && !isString(c[k])) p.push(`${k} is not a string`);
  if ("value_template" in c && !/^\{\{.*\}\}$/.test(c.value_template)) p.push("value_template is not a template");
  if ("state_class" in c && !["measurement", "total", "total_increasing", "measurement_angle"].includes(c.state_class)) p.push(`state_class ${c.state_class}`);
  if (c.state_class !== "measurement") p.push("a reading is a measurement");
  if ("expire_after" in c && !(Number.isInteger(c.expire_after) && c.expire_after > 0)) p.push(`expire_after ${c.expire_after} is not a positive integer`);
  if ("suggested_display_precision" in c && !(Number.isInteger(c.suggested_display_precision) && c.suggested_display_precision >= 0)) p.push("suggested_display_precision");
  if ("device_class" in c) {
    const units = UNITS[c.device_class];
    if (!units) p.push(`device_class ${c.device_class} is not one this check knows`);
    else if (!units.includes(c.unit_of_measurement)) p.push(`unit ${c.unit_of_measurement} is not valid for device_class ${c.device_class}`);
  }
  if ("availability" in c) {
    if ("availability_topic" in c) p.push("availability and availability_topic together");
    if (!Array.isArray(c.availability) || c.availability.length === 0) p.push("availability is not a non-empty list");
    else
      for (const a of c.availability) {
        for (const k of Object.keys(a)) if (!AVAILABILITY_KEYS.has(k)) p.push(`availability: unknown key ${k}`);
        if (!isTopic(a.topic)) p.push("availability: topic (required) is not a topic");
        for (const k of ["payload_available", "payload_not_available", "value_template"]) if (k in a && !isString(a[k])) p.push(`availability: ${k} is not a string`);
      }
  }
  if ("device" in c) {
    const d = c.device;
    if (d === null || typeof d !== "object") p.push("device is not a map");
    else {
      for (const k of Object.keys(d)) if (!DEVICE_KEYS.has(k)) p.push(`device: unknown key ${k}`);
      const ids = d.identifiers;
      if (!(isString(ids) || (Array.isArray(ids) && ids.length > 0 && ids.every(isString)))) p.push("device: identifiers is not a string or a list of strings");
      for (const k of ["name", "model", "manufacturer", "sw_version"]) if (!isString(d[k])) p.push(`device: ${k} missing or not a string`);
      if (!isString(c.unique_id)) p.push("a device block works only with a unique_id");
    }
  }
  if ("origin" in c) {
    for (const k of Object.keys(c.origin)) if (!ORIGIN_KEYS.has(k)) p.push(`origin: unknown key ${k}`);
    if (!isString(c.origin.name)) p.push("origin: name (required) missing");
  }
  return p;
}

// ---- the Jinja we emit, and nothing else ------------------------------------------------

/**
 * Renders `template` over an MQTT payload as Home Assistant does, for the two forms we
 * emit: `{{ value_json.<key> }}` and `{{ value_json.<key> | default(None) }}`. The payload
 * is parsed as JSON and the key looked up; a missing key is Jinja's undefined, which
 * renders empty (HA ignores the message, but still restarts its expire_after timer), or,
 * through `default(None)`, "None" (HA sets the state unknown). Throws for any other form.
 */
function render(template: string, payload: string): string {
  const m = /^\{\{ value_json\.([A-Za-z_][A-Za-z0-9_]*)( \| default\(None\))? \}\}$/.exec(template);
  if (!m) throw new Error(`the test's evaluator does not know the template ${JSON.stringify(template)}`);
  const v = (JSON.parse(payload) as Record<string, unknown>)[m[1]];
  if (v === undefined) return m[2] ? "None" : "";
  if (typeof v === "number" || typeof v === "string") return String(v);
  throw new Error(`value_json.${m[1]} is neither a number nor a string`);
}

// ---- every board's configs ----------------------------------------------------------------

/** Quantities and decimals per driver, read from the driver table in hardware.ts (so a new driver cannot be missed). */
function driverDecimals(): Record<string, Record<string, number>> {
  const src = readFileSync(path.join(root, "src/platform/moddable/hardware.ts"), "utf8");
  const out: Record<string, Record<string, number>> = {};
  for (const m of src.matchAll(/^ {2}(\w+): \{\n {4}decimals: \{([^}]*)\}/gm)) {
    out[m[1]] = Object.fromEntries(m[2].split(",").map((kv) => kv.split(":").map((x) => x.trim())).map(([k, v]) => [k, Number(v)]));
  }
  return out;
}

describe("Home Assistant discovery: every board's configs", () => {
  const drivers = driverDecimals();
  const files = readdirSync(path.join(root, "boards")).filter((f) => f.endsWith(".ts"));

  it("the driver table names the quantities the configs know", () => {
    assert.deepEqual(Object.keys(drivers).sort(), ["aht10", "bmp280", "sht3x", "tmp102"]);
    for (const d of Object.values(drivers)) for (const q of Object.keys(d)) assert.ok(q in EXPECTED, `quantity ${q} has a device class`);
  });

  for (const file of files) {
    it(`${file}: valid against HA's sensor schema, one per quantity, unique ids, within the ${CONFIG_PACKET_LIMIT}-byte budget`, async () => {
      const b = ((await import(pathToFileURL(path.join(root, "dist/boards", file.replace(/\.ts$/, ".js"))).href)) as { default: BoardDefinition }).default;
      const sensors = b.sensors.map((s) => {
        const decimals = s.driver === "simulated" ? Object.fromEntries(Object.entries(s.simulate!).map(([q, v]) => [q, v.decimals ?? 2])) : drivers[s.driver];
        assert.ok(decimals, `${s.name}: driver ${s.driver}`);
        return { name: s.name, decimals };
      });
      const quantities = sensors.reduce((n, s) => n + Object.keys(s.decimals).length, 0);
      // the default device id, and one of 32 characters with a 16-character reading prefix: what the budget is for
      for (const [deviceId, prefix] of [[`xsmqtt-${b.name.replace(/[^A-Za-z0-9]/g, "-")}`, "xsmqtt"], ["a".repeat(32), "p".repeat(16)]]) {
        const input: DiscoveryInput = {
          prefix: "homeassistant",
          deviceId,
          board: b.name,
          firmware: FIRMWARE_VERSION,
          statusTopic: `${prefix}/${deviceId}/status`,
          interval: 10000,
          sensors: sensors.map((s) => ({ ...s, topic: `${prefix}/${deviceId}/${s.name}` })),
        };
        const configs = discoveryConfigs(input);
        assert.equal(configs.length, quantities);
        const parsed = configs.map((c) => JSON.parse(c.payload));
        assert.equal(new Set(configs.map((c) => c.topic)).size, configs.length, "distinct topics");
        assert.equal(new Set(parsed.map((c) => c.unique_id)).size, configs.length, "distinct unique_ids");
        assert.equal(new Set(parsed.map((c) => c.name)).size, configs.length, "distinct names");
        for (const [i, c] of configs.entries()) {
          assert.deepEqual(schemaProblems(c.topic, c.payload), [], c.topic);
          const q = /value_json\.(\w+)/.exec(parsed[i].value_template)![1];
          assert.equal(parsed[i].device_class, EXPECTED[q].device_class);
          assert.equal(parsed[i].unit_of_measurement, EXPECTED[q].unit);
          assert.equal(parsed[i].device.model, b.name);
          assert.ok(configPacketSize(c) <= CONFIG_PACKET_LIMIT, `${c.topic}: ${configPacketSize(c)} bytes`);
        }
        const largest = Math.max(...configs.map(configPacketSize));
        // the client refuses a PUBLISH over its outbox less an entry header; the firmware's outbox is at least 4,096 bytes
        assert.ok(largest + ENTRY_HEADER < 4096 / 3, `largest config ${largest} bytes: three fit in a 4,096-byte outbox`);
      }
    });
  }

  it("expire_after is three intervals, never under a minute", () => {
    assert.equal(expireAfter(200), 60);
    assert.equal(expireAfter(10000), 60);
    assert.equal(expireAfter(30000), 90);
    assert.equal(expireAfter(60001), 181);
  });

  it("discovery off: no configs", () => {
    assert.deepEqual(discoveryConfigs({ prefix: null, deviceId: "d", board: "host", firmware: "0", statusTopic: "x/d/status", interval: 1000, sensors: [{ name: "env", topic: "x/d/env", decimals: { temperature: 2 } }] }), []);
  });

  it("the schema check and the evaluator refuse what they should", () => {
    assert.ok(schemaProblems("homeassistant/sensor/a.b/c/config", '{"state_topic":"x"}').length > 0);
    assert.ok(schemaProblems("homeassistant/sensor/a/c/config", '{"state_topic":"x","device_class":"temperature","unit_of_measurement":"%"}').some((s) => s.startsWith("unit")));
    assert.ok(schemaProblems("homeassistant/sensor/a/c/config", '{"state_topic":"x","stat_t":"y"}').some((s) => s.startsWith("unknown key")));
    assert.equal(render("{{ value_json.t }}", '{"t":21.5}'), "21.5");
    assert.equal(render("{{ value_json.t }}", '{"error":"no answer"}'), "");
    assert.equal(render("{{ value_json.t | default(None) }}", '{"t":21.5}'), "21.5");
    assert.equal(render("{{ value_json.t | default(None) }}", '{"error":"no answer"}'), "None");
    assert.throws(() => render("{{ value_json.t | float }}", '{"t":1}'));
  });
});

// ---- the firmware, on each engine, against mosquitto ---------------------------------------

interface Got {
  topic: string;
  payload: string;
  retain: boolean;
  at: number;
}

/** A subscriber recording raw payloads (Home Assistant parses the text itself). */
async function watch(port: number, filters: string[]): Promise<{ got: Got[]; client: mqtt.MqttClient }> {
  const got: Got[] = [];
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
  client.on("message", (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain, at: Date.now() }));
  await client.subscribeAsync(filters, { qos: 1 });
  return { got, client };
}

/** What a fresh subscriber to `filter` sees retained, after a short wait. */
async function retained(port: number, filter: string): Promise<Got[]> {
  const w = await watch(port, [filter]);
  await sleep(300);
  await w.client.endAsync();
  return w.got.filter((g) => g.retain);
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

const HOST_OBJECTS = ["env_temperature", "env_humidity", "pressure"];

let n = 0;
for (const engine of ENGINES) {
  describe(`Home Assistant discovery on the host board (${engine})`, function () {
    this.timeout(30000);
    let mosq: Mosquitto;
    let dev: Awaited<ReturnType<typeof startEngine>> | null = null;
    let sub: { got: Got[]; client: mqtt.MqttClient } | null = null;
    let id = "";
    let lines: string[] = [];
    const prefix = "fw";

    before(async function () {
      requireMosquitto(this);
      mosq = await startMosquitto();
    });
    after(async () => mosq?.close());
    beforeEach(() => {
      id = `ha-${engine}-${process.pid}-${++n}`;
      lines = [];
    });
    afterEach(async () => {
      if (dev) {
        await dev.call("stop").catch(() => undefined);
        await dev.close();
        assert.deepEqual(dev.failures(), []);
        dev = null;
      }
      await sub?.client.endAsync();
      sub = null;
    });

    const config = (over: BuildConfig = {}): BuildConfig => ({ deviceId: id, brokers: [`mqtt://127.0.0.1:${mosq.port}`], prefix, interval: 200, qos: 1, ...over });
    async function start(over: BuildConfig = {}, settings: Record<string, string> = {}, discoveryPrefix = "homeassistant"): Promise<void> {
      sub = await watch(mosq.port, [`${discoveryPrefix}/sensor/${id}/+/config`, `${prefix}/${id}/#`]);
      dev = await startEngine(engine, appModule(), { onEvent: (e) => e.type === "console" && lines.push(e.line) });
      await dev.call("start", config(over), settings);
    }
    const configs = (discoveryPrefix = "homeassistant") => sub!.got.filter((g) => g.topic.startsWith(`${discoveryPrefix}/sensor/${id}/`));
    const latest = (objectId: string, discoveryPrefix = "homeassistant") => configs(discoveryPrefix).filter((g) => g.topic === `${discoveryPrefix}/sensor/${id}/${objectId}/config`).pop();
    const announced = (discoveryPrefix = "homeassistant") => HOST_OBJECTS.every((o) => latest(o, discoveryPrefix)?.payload);

    it("after connect: a retained config per value, valid against HA's schema, whose templates read the real reading and status", async () => {
      await start();
      await until(() => announced(), 5000, "three configs");
      await until(() => sub!.got.some((g) => g.topic === `${prefix}/${id}/env`) && sub!.got.some((g) => g.topic === `${prefix}/${id}/pressure`), 5000, "readings");
      const seen = await retained(mosq.port, `homeassistant/sensor/${id}/+/config`);
      assert.deepEqual(seen.map((g) => g.topic).sort(), HOST_OBJECTS.map((o) => `homeassistant/sensor/${id}/${o}/config`).sort(), "retained, one per value");
      const status = (await retained(mosq.port, `${prefix}/${id}/status`))[0];
      for (const g of seen) {
        assert.deepEqual(schemaProblems(g.topic, g.payload), [], g.topic);
        const c = JSON.parse(g.payload);
        assert.equal(c.unique_id, `${id}_${g.topic.split("/")[3]}`);
        assert.equal(c.expire_after, 60);
        assert.deepEqual(c.device, { identifiers: [id], name: id, model: "host", manufacturer: "xsmqtt", sw_version: FIRMWARE_VERSION });
        // the value, out of a reading the firmware published on the state topic
        const reading = sub!.got.find((r) => r.topic === c.state_topic && !r.payload.includes("error"))!;
        assert.ok(reading, `a reading on ${c.state_topic}`);
        const q = Object.keys(EXPECTED).find((k) => c.value_template.includes(k))!;
        const text = render(c.value_template, reading.payload);
        assert.equal(Number(text), JSON.parse(reading.payload)[q], `${q} from ${reading.payload}`);
        assert.ok(Number.isFinite(parseFloat(text)));
        assert.equal(c.device_class, EXPECTED[q].device_class);
        assert.equal(c.unit_of_measurement, EXPECTED[q].unit);
        // availability from the retained status
        const a = c.availability[0];
        assert.equal(a.topic, `${prefix}/${id}/status`);
        assert.equal(render(a.value_template, status.payload), a.payload_available);
        assert.equal(render(a.value_template, '{"state":"offline"}'), a.payload_not_available);
      }
      // a failed sensor's reading renders "None": HA shows the value as unknown (any message restarts expire_after, so an ignored one would leave a stale value)
      await dev!.call("fault", "pressure", true);
      await until(() => sub!.got.some((r) => r.topic === `${prefix}/${id}/pressure` && r.payload.includes("error")), 3000, "an error reading");
      const failed = sub!.got.find((r) => r.topic === `${prefix}/${id}/pressure` && r.payload.includes("error"))!;
      assert.equal(render(JSON.parse(latest("pressure")!.payload).value_template, failed.payload), "None");
    });

    it("Home Assistant's birth message makes them reappear, after a random delay of at most 5 s", async () => {
      await start();
      await until(() => announced(), 5000, "three configs");
      await sleep(200);
      for (const o of HOST_OBJECTS) await sub!.client.publishAsync(`homeassistant/sensor/${id}/${o}/config`, "", { qos: 1, retain: true });
      await sleep(200);
      assert.deepEqual(await retained(mosq.port, `homeassistant/sensor/${id}/+/config`), [], "cleared");
      const before = sub!.got.length;
      const sent = Date.now();
      await sub!.client.publishAsync("homeassistant/status", "online", { qos: 0 });
      await until(() => HOST_OBJECTS.every((o) => sub!.got.slice(before).some((g) => g.topic.endsWith(`/${o}/config`) && g.payload !== "")), 8000, "the configs again");
      const delay = Math.max(...sub!.got.slice(before).filter((g) => g.topic.includes("/sensor/")).map((g) => g.at)) - sent;
      assert.ok(delay <= 5000 + 1000, `announced ${delay} ms after the birth message`);
      const seen = await retained(mosq.port, `homeassistant/sensor/${id}/+/config`);
      assert.equal(seen.length, 3, "retained again");
      for (const g of seen) assert.deepEqual(schemaProblems(g.topic, g.payload), []);
      // "offline" (HA's will) asks for nothing
      const count = configs().length;
      await sub!.client.publishAsync("homeassistant/status", "offline", { qos: 0 });
      await sleep(1000);
      assert.equal(configs().length, count);
    });

    it("an interval command republishes them with the new expire_after", async () => {
      await start();
      await until(() => announced(), 5000, "three configs");
      await sub!.client.publishAsync(`${prefix}/${id}/cmd`, JSON.stringify({ cmd: "interval", value: 30000 }), { qos: 1 });
      await until(() => HOST_OBJECTS.every((o) => JSON.parse(latest(o)?.payload || "{}").expire_after === 90), 5000, "expire_after 90");
      for (const g of await retained(mosq.port, `homeassistant/sensor/${id}/+/config`)) assert.equal(JSON.parse(g.payload).expire_after, 90);
    });

    it("a discovery prefix setting moves them; 'set discovery off' and 'apply' remove them with empty retained payloads", async () => {
      await start({}, { discovery: "ha-test" }, "ha-test");
      await until(() => announced("ha-test"), 5000, "three configs under ha-test");
      assert.equal(configs("homeassistant").length, 0);
      await dev!.call("line", "set discovery off");
      await dev!.call("line", "apply");
      await until(() => lines.includes("ok discovery") && lines.includes("ok apply"), 3000, "the console's answers");
      await until(() => HOST_OBJECTS.every((o) => latest(o, "ha-test")?.payload === ""), 5000, "an empty payload on each config topic");
      assert.deepEqual(await retained(mosq.port, `ha-test/sensor/${id}/+/config`), [], "a fresh subscriber sees no config");
      // the record of what was announced is gone too: nothing left to clear
      lines.length = 0;
      await dev!.call("line", "keys");
      await until(() => lines.some((l) => l.startsWith("keys")), 3000, "keys");
      assert.ok(!lines.find((l) => l.startsWith("keys"))!.split(" ").includes("discovered"), lines.join("\n"));
      // a prefix with a wildcard is refused
      await dev!.call("line", "set discovery ha/+");
      await until(() => lines.some((l) => l.startsWith("error")), 3000, "the refusal");
      assert.match(lines.find((l) => l.startsWith("error"))!, /discovery must be a topic prefix/);
    });

    it("a new prefix or device id clears the configs announced under the old one", async () => {
      await start();
      await until(() => announced(), 5000, "three configs");
      const moved = await watch(mosq.port, [`ha-moved/sensor/${id}/+/config`, `homeassistant/sensor/${id}-b/+/config`]);
      try {
        await dev!.call("line", "set discovery ha-moved");
        await dev!.call("line", "apply");
        await until(() => HOST_OBJECTS.every((o) => latest(o)?.payload === ""), 5000, "the old configs cleared");
        await until(() => moved.got.filter((g) => g.topic.startsWith("ha-moved/") && g.payload !== "").length === 3, 5000, "the configs under ha-moved");
        assert.deepEqual(await retained(mosq.port, `homeassistant/sensor/${id}/+/config`), []);
        assert.equal((await retained(mosq.port, `ha-moved/sensor/${id}/+/config`)).length, 3);
        // back to the default prefix, under another device id
        await dev!.call("line", "set discovery homeassistant");
        await dev!.call("line", `set deviceid ${id}-b`);
        await dev!.call("line", "apply");
        await until(() => moved.got.filter((g) => g.topic.startsWith("ha-moved/") && g.payload === "").length === 3, 5000, "the ha-moved configs cleared");
        await until(() => moved.got.filter((g) => g.topic.startsWith(`homeassistant/sensor/${id}-b/`) && g.payload !== "").length === 3, 5000, "the configs of the new id");
        assert.deepEqual(await retained(mosq.port, `ha-moved/sensor/${id}/+/config`), []);
        const seen = await retained(mosq.port, `homeassistant/sensor/${id}-b/+/config`);
        assert.equal(seen.length, 3);
        for (const g of seen) {
          assert.deepEqual(schemaProblems(g.topic, g.payload), []);
          assert.equal(JSON.parse(g.payload).state_topic.startsWith(`${prefix}/${id}-b/`), true);
        }
      } finally {
        await moved.client.endAsync();
      }
    });

    it("a config never makes a reading drop: with a 1,200-byte budget, through an outage", async () => {
      await start({ outboxBytes: 1200 });
      await until(() => announced(), 5000, "three configs");
      let s = await dev!.call("stats");
      assert.equal(s.client.dropped, 0, "nothing dropped to make room for a config");
      const before = configs().length;
      await dev!.call("network", false);
      await sleep(2000); // a backlog of readings larger than the outbox
      await dev!.call("network", true);
      await until(() => configs().length >= before + 3, 8000, "the configs after the reconnect");
      await sleep(300);
      s = await dev!.call("stats");
      const readings = sub!.got.filter((g) => g.topic === `${prefix}/${id}/env` || g.topic === `${prefix}/${id}/pressure`);
      const got = new Set(readings.map((g) => g.topic + JSON.parse(g.payload).t)).size;
      // readings wait in the journal (budget 1,200 bytes), not in the client's outbox: nothing is dropped there
      assert.equal(s.client.dropped, 0, "the client dropped nothing");
      assert.equal(got + s.journal.dropped, s.journal.taken - s.journal.queued, "every reading received, dropped (by the journal's budget, counted) or queued");
    });

    it("turned off before a restart: the next start clears what the last one announced", async () => {
      await start();
      await until(() => announced(), 5000, "three configs");
      await dev!.call("line", "set discovery off");
      // the console's restart (the MQTT "restart" command, sent at QoS 1 to a persistent session, is redelivered to each new start)
      await dev!.call("line", "restart");
      await until(() => HOST_OBJECTS.every((o) => latest(o)?.payload === ""), 8000, "an empty payload on each config topic");
      assert.deepEqual(await retained(mosq.port, `homeassistant/sensor/${id}/+/config`), []);
      lines.length = 0;
      await dev!.call("line", "keys");
      await until(() => lines.some((l) => l.startsWith("keys")), 3000, "keys");
      assert.deepEqual(lines.find((l) => l.startsWith("keys")), "keys discovery", "the record of what was announced is gone");
      // and a birth message brings nothing back
      const count = configs().length;
      await sub!.client.publishAsync("homeassistant/status", "online", { qos: 0 });
      await sleep(1500);
      assert.equal(configs().length, count);
    });
  });
}
