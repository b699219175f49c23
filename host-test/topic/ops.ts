/**
 * Topic operations the topic suite runs on both engines. Node imports this module
 * directly; inside XS, xs-entry.ts serves the same compiled file through the bridge.
 * Plain ECMAScript only, and every input and result is JSON, so the two engines can be
 * compared answer for answer. Calls take whole batches: one bridge trip per check.
 */
import { MqttError } from "../../src/mqtt/errors.js";
import { matchFilter, SubscriptionTable, topicMatches, validateTopic, validateTopicFilter, type SubscriptionEntry } from "../../src/mqtt/topic.js";
import { fromHex } from "../../tools/inspect.js";
import { TopicCache } from "../../src/mqtt/topic-cache.js";
import { utf8Length, writeUtf8 } from "../../src/mqtt/utf8.js";

/** The error a call raised: its code for an MqttError, else "Name: message" (a bug to report). */
function codeOf(e: unknown): string {
  if (e instanceof MqttError) return e.code;
  const err = e as Error;
  return `${(err && err.name) || "unknown"}: ${(err && err.message) || String(e)}`;
}

/** For each string: null if `validateTopic` (kind "topic") or `validateTopicFilter` accepts it, else the error's code. */
export function validate(kind: "topic" | "filter", values: string[]): (string | null)[] {
  const check = kind === "topic" ? validateTopic : validateTopicFilter;
  return values.map((v) => {
    try {
      check(v);
      return null;
    } catch (e) {
      return codeOf(e);
    }
  });
}

/** `topicMatches(filter, topic)` for each pair. */
export function matches(pairs: [string, string][]): boolean[] {
  return pairs.map(([f, t]) => topicMatches(f, t));
}

/** Bytes that change a match if read past either end of a topic: a separator, then wildcards. */
const GUARD = [0x2f, 0x23, 0x2b, 0x2f, 0x61];

/**
 * The topic's UTF-8 placed at offset 5 of a buffer with {@link GUARD} bytes on both sides,
 * so a matcher that reads outside `[start, start+length)` sees bytes that change its answer.
 */
function guarded(topic: string): { data: Uint8Array; start: number; length: number } {
  const n = utf8Length(topic);
  const data = new Uint8Array(GUARD.length * 2 + n);
  data.set(GUARD, 0);
  writeUtf8(data, GUARD.length, topic);
  data.set(GUARD, GUARD.length + n);
  return { data, start: GUARD.length, length: n };
}

function bytes(s: string): Uint8Array {
  const b = new Uint8Array(utf8Length(s));
  writeUtf8(b, 0, s);
  return b;
}

/** `matchFilter` for each pair, the topic inside a guarded buffer and the filter a view into a larger one. */
export function matchesGuarded(pairs: [string, string][]): boolean[] {
  return pairs.map(([f, t]) => {
    const fb = bytes(f);
    // the filter as a subarray: its length, not its buffer's, must bound the walk
    const wide = new Uint8Array(fb.length + 2);
    wide.set(fb, 0);
    wide[fb.length] = 0x2f;
    wide[fb.length + 1] = 0x23;
    const g = guarded(t);
    return matchFilter(wide.subarray(0, fb.length), g.data, g.start, g.length);
  });
}

/** One step of a {@link table} script. */
export type Step =
  | { op: "set"; filter: string; qos: number; handler: string }
  | { op: "delete"; filter: string }
  | { op: "get"; filter: string }
  | { op: "size" }
  | { op: "rows" }
  | { op: "route"; topic: string };

interface Row {
  filter: string;
  qos: number;
  handler: string;
}

const row = (e: SubscriptionEntry<string>): Row => ({ filter: e.filter, qos: e.qos, handler: e.value });

/**
 * Runs `steps` on one SubscriptionTable and returns each step's result: `set` gives the
 * row and whether it is the same object an earlier `set` of that filter returned; `route`
 * gives the rows the documented `next` loop visits, with their indexes.
 */
export function table(steps: Step[]): unknown[] {
  const t = new SubscriptionTable<string>();
  const seen = new Map<string, SubscriptionEntry<string>>();
  return steps.map((s) => {
    try {
      switch (s.op) {
        case "set": {
          const e = t.set(s.filter, s.qos, s.handler);
          const same = seen.get(s.filter) === e;
          seen.set(s.filter, e);
          return { row: row(e), sameRow: same };
        }
        case "delete":
          return t.delete(s.filter);
        case "get": {
          const e = t.get(s.filter);
          return e ? row(e) : null;
        }
        case "size":
          return t.size;
        case "rows": {
          const out: Row[] = [];
          for (let i = 0; i < t.size; i++) out.push(row(t.at(i)));
          return out;
        }
        case "route": {
          const g = guarded(s.topic);
          const out: [number, Row][] = [];
          for (let i = t.next(g.data, g.start, g.length, 0); i >= 0; i = t.next(g.data, g.start, g.length, i + 1)) out.push([i, row(t.at(i))]);
          return out;
        }
      }
    } catch (e) {
      return { error: codeOf(e) };
    }
  });
}

/** One step of {@link topicCache}: a topic's bytes (hex) placed in one of three buffers. */
export interface CacheStep {
  hex: string;
  /** 0: the cache's own buffer; 1 and 2: chunk arrays over two other ArrayBuffers (byteOffset 7 and 0). */
  where: number;
  /** Where in that buffer the topic starts. */
  at: number;
}

/**
 * Runs a TopicCache (`slots` topics of at most `maxLength` bytes, resting for `restFor`
 * topics after `restAfter` misses in a row) the way the decoder
 * does: find each topic, and on a miss add it unless it holds a zero byte (the decoder
 * adds only valid topics). Returns, per step, [slot found or -1, slot added or -1, key].
 */
export function topicCache(steps: CacheStep[], slots: number, maxLength: number, restAfter: number, restFor: number): number[][] {
  const own = new Uint8Array(128);
  const a = new Uint8Array(new ArrayBuffer(200), 7, 128);
  const b = new Uint8Array(128);
  const cache = new TopicCache(slots, maxLength, own, restAfter, restFor);
  const out: number[][] = [];
  for (const s of steps) {
    const d = s.where === 0 ? own : s.where === 1 ? a : b;
    const bytes = fromHex(s.hex);
    d.fill(0x55);
    d.set(bytes, s.at);
    const found = cache.find(d, s.at, bytes.length);
    let added = -1;
    if (found < 0 && bytes.indexOf(0) < 0) added = cache.add(d, s.at, bytes.length);
    const slot = found >= 0 ? found : added;
    out.push([found, added, slot >= 0 ? cache.keys[slot] : 0]);
  }
  return out;
}
