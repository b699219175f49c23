/**
 * Topic names, topic filters and matching (MQTT 3.1.1 §4.7), and the subscription table.
 * Every case runs on Node and inside XS (the same compiled topic/ops.ts); the examples are
 * the specification's own, and a property compares the byte matcher with a reference
 * written here from §4.7's words over split strings.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import * as ops from "./topic/ops.js";
import type { Step } from "./topic/ops.js";
import { ENGINES, openEngine, type Engine } from "./engines.js";

/** Topic filters and whether §4.7.1 allows them. */
const FILTERS: [string, boolean, string][] = [
  ["sport/tennis/#", true, "§4.7.1.2"],
  ["sport/tennis#", false, "§4.7.1.2: '#' must be a whole level"],
  ["sport/tennis/#/ranking", false, "§4.7.1.2: '#' must be the last level"],
  ["#", true, "§4.7.1.2"],
  ["sport/#", true, "§4.7.1.2"],
  ["+", true, "§4.7.1.3"],
  ["+/tennis/#", true, "§4.7.1.3"],
  ["sport+", false, "§4.7.1.3: '+' must be a whole level"],
  ["sport/+/player1", true, "§4.7.1.3"],
  ["/+", true, "§4.7.1.3"],
  ["+/+", true, "§4.7.1.3"],
  ["+/+/+", true, "several '+'"],
  ["sport/+/#", true, "'+' then '#'"],
  ["/", true, "two empty levels"],
  ["//", true, "three empty levels"],
  ["/#", true, "'#' after an empty level"],
  ["$SYS/#", true, "§4.7.2"],
  ["$SYS/monitor/+", true, "§4.7.2"],
  ["sport/tennis/player1", true, "no wildcards"],
  ["Accounts payable", true, "§4.7.3: spaces allowed"],
  ["capteur/é/température", true, "non-ASCII"],
  ["传感器/+/温度/#", true, "non-ASCII with wildcards"],
  ["𝄞/+", true, "a four-byte character"],
  ["##", false, "'#' twice"],
  ["#/", false, "'#' not last"],
  ["#/a", false, "'#' not last"],
  ["+#", false, "'+' not a whole level"],
  ["#+", false, "'#' not last"],
  ["a/+b", false, "'+' not a whole level"],
  ["a/b+", false, "'+' not a whole level"],
  ["++", false, "'+' not a whole level"],
  ["a/#b", false, "'#' not a whole level"],
  ["é#", false, "'#' after a multi-byte character"],
  ["é/+é", false, "'+' before a multi-byte character"],
  ["", false, "§4.7.3: at least one character"],
];

/** Topic names and whether §4.7.3 and §1.5.3 allow them. */
const TOPICS: [string, boolean, string][] = [
  ["sport/tennis/player1", true, "§4.7.1"],
  ["/finance", true, "§4.7.1.3: a leading '/'"],
  ["finance/", true, "a trailing '/'"],
  ["/", true, "just a separator"],
  ["Accounts payable", true, "§4.7.3: spaces allowed"],
  ["$SYS/monitor/Clients", true, "§4.7.2"],
  ["capteur/é/température", true, "non-ASCII"],
  ["𝄞", true, "a four-byte character"],
  ["", false, "§4.7.3: at least one character"],
  ["sport/tennis/#", false, "§4.7.1: wildcards are for filters"],
  ["sport/+/player1", false, "§4.7.1: wildcards are for filters"],
  ["+", false, "§4.7.1"],
  ["a\u0000b", false, "§1.5.3: U+0000"],
  ["a\ud800b", false, "§1.5.3: a lone high surrogate"],
  ["a\udc00", false, "§1.5.3: a lone low surrogate"],
  ["a\ud800", false, "§1.5.3: a high surrogate at the end"],
];

/** Matching examples of §4.7.1.2, §4.7.1.3, §4.7.2 and §4.7.3, then non-ASCII ones. */
const MATCHES: [string, string, boolean, string][] = [
  ["sport/tennis/player1/#", "sport/tennis/player1", true, "§4.7.1.2: '#' includes the parent"],
  ["sport/tennis/player1/#", "sport/tennis/player1/ranking", true, "§4.7.1.2"],
  ["sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true, "§4.7.1.2"],
  ["sport/tennis/player1/#", "sport/tennis/player2", false, "§4.7.1.2"],
  ["sport/tennis/player1/#", "sport/tennis", false, "§4.7.1.2: only one parent"],
  ["sport/#", "sport", true, "§4.7.1.2"],
  ["#", "sport/tennis/player1", true, "§4.7.1.2: every topic"],
  ["#", "/", true, "§4.7.1.2"],
  ["sport/tennis/+", "sport/tennis/player1", true, "§4.7.1.3"],
  ["sport/tennis/+", "sport/tennis/player2", true, "§4.7.1.3"],
  ["sport/tennis/+", "sport/tennis/player1/ranking", false, "§4.7.1.3: one level only"],
  ["sport/+", "sport", false, "§4.7.1.3"],
  ["sport/+", "sport/", true, "§4.7.1.3: an empty level"],
  ["+/+", "/finance", true, "§4.7.1.3"],
  ["/+", "/finance", true, "§4.7.1.3"],
  ["+", "/finance", false, "§4.7.1.3"],
  ["+", "finance", true, "§4.7.1.3"],
  ["sport/+/player1", "sport/tennis/player1", true, "§4.7.1.3"],
  ["#", "$SYS/monitor/Clients", false, "§4.7.2"],
  ["+/monitor/Clients", "$SYS/monitor/Clients", false, "§4.7.2"],
  ["$SYS/#", "$SYS/monitor/Clients", true, "§4.7.2"],
  ["$SYS/monitor/+", "$SYS/monitor/Clients", true, "§4.7.2"],
  ["#", "$SYS", false, "§4.7.2"],
  ["+", "$SYS", false, "§4.7.2"],
  ["$SYS/#", "$SYS", true, "§4.7.2 with §4.7.1.2"],
  ["a/+", "a/$SYS", true, "§4.7.2 is about the first level only"],
  ["a/#", "a/$x/y", true, "§4.7.2 is about the first level only"],
  ["#", "a$", true, "'$' not first"],
  ["ACCOUNTS", "Accounts", false, "§4.7.3: case matters"],
  ["Accounts payable", "Accounts payable", true, "§4.7.3: spaces"],
  ["/finance", "finance", false, "§4.7.3: a leading '/' is a level"],
  ["finance", "/finance", false, "§4.7.3"],
  ["finance/", "finance", false, "a trailing '/' is a level"],
  ["finance/#", "finance/", true, "'#' over an empty level"],
  ["+/#", "/", true, "'+' and '#' over empty levels"],
  ["+/+", "/", true, "two empty levels"],
  ["+", "/", false, "two levels"],
  ["//", "//", true, "empty levels"],
  ["/+/", "//", true, "'+' over an empty middle level"],
  ["/+", "//", false, "two levels against three"],
  ["a/+/#", "a", false, "'+' needs a level before '#'"],
  ["a/+/#", "a/b", true, "'+' then '#' as the parent"],
  ["a/b", "a/bc", false, "a longer last level"],
  ["a/bc", "a/b", false, "a shorter last level"],
  ["ab", "a", false, "a prefix"],
  ["a", "ab", false, "an extension"],
  ["capteur/é/+", "capteur/é/température", true, "non-ASCII levels"],
  ["capteur/e/+", "capteur/é/température", false, "é is not e"],
  ["é", "è", false, "same first byte, different second"],
  ["€/#", "€", true, "three-byte character, '#' parent"],
  ["+/中", "x/中", true, "non-ASCII after '+'"],
  ["+/中", "x/中文", false, "a longer non-ASCII level"],
  ["传感器/+/温度", "传感器/设备1/温度", true, "CJK levels"],
  ["𝄞/+", "𝄞/é", true, "four-byte character"],
  ["+/+", "𝄞/", true, "four-byte level and an empty one"],
];

// ---- the reference: §4.7 on split strings, nothing shared with the byte matcher ----

/** Whether `filter` matches `topic`, from the words of §4.7.1-4.7.2. */
function referenceMatch(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  if (topic.startsWith("$") && (f[0] === "+" || f[0] === "#")) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true; // this level, all below, and the parent (i === t.length)
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** UTF-8 length, or -1 for a lone surrogate or U+0000 (§1.5.3), by Node's own encoder. */
function sendableLength(s: string): number {
  if (/\p{Cs}/u.test(s) || s.includes("\u0000")) return -1;
  return Buffer.byteLength(s, "utf8");
}

/** Whether §4.7 allows `filter`: each level is "+", "#" (last only), or free of both. */
function referenceValidFilter(filter: string): boolean {
  const n = sendableLength(filter);
  if (filter === "" || n < 0 || n > 65535) return false;
  const levels = filter.split("/");
  return levels.every((l, i) => l === "+" || (l === "#" && i === levels.length - 1) || !/[+#]/.test(l));
}

function referenceValidTopic(topic: string): boolean {
  const n = sendableLength(topic);
  return topic !== "" && n >= 0 && n <= 65535 && !/[+#]/.test(topic);
}

/**
 * The 65535-byte limit cases an engine runs. XS finds a string's i-th UTF-16 unit by
 * scanning from the start, so utf8.ts's charCodeAt walk is quadratic there: the ASCII
 * cases (65535 units) take seconds each. XS runs the first two, the cheapest pair on
 * either side of the limit (21845 three-byte characters); Node runs them all.
 */
function limitCases(engine: "node" | "xs", cases: [string, boolean][]): [string, boolean][] {
  return engine === "xs" ? cases.slice(0, 2) : cases;
}

// ---- generators ----

/** Few distinct levels, so generated filters and topics often meet; with '$' and multi-byte ones. */
const level = fc.constantFrom("a", "b", "ab", "", "$SYS", "$a", "é", "中文", "𝄞", "a b", "a$");
const topicArb = fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join("/")).filter((t) => t !== "");
const filterArb = fc
  .tuple(fc.array(fc.oneof({ weight: 3, arbitrary: level }, { weight: 1, arbitrary: fc.constant("+") }), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([l, hash]) => (hash ? [...l, "#"] : l).join("/"))
  .filter((f) => f !== "");
/** A topic made from a filter: '+' and '#' replaced by levels, so most pairs match. */
const matchingPair: fc.Arbitrary<[string, string]> = filterArb.chain((f) =>
  fc
    .tuple(
      fc.array(level, { minLength: f.split("/").length, maxLength: f.split("/").length }),
      fc.array(level, { maxLength: 3 }),
      fc.boolean(),
    )
    .map(([fill, tail, parent]): [string, string] => {
      const levels: string[] = [];
      for (const [i, l] of f.split("/").entries()) {
        if (l === "#") {
          if (!parent) levels.push(...(tail.length ? tail : [fill[i]]));
          break;
        }
        levels.push(l === "+" ? fill[i] : l);
      }
      const t = levels.join("/");
      return [f, t === "" ? "x" : t];
    }),
);
const pairArb = fc.oneof(fc.tuple(filterArb, topicArb), matchingPair);
/** Strings over the characters that matter to filter validity. */
const wildString = fc.string({ unit: fc.constantFrom("a", "/", "+", "#", "é", "$", " "), minLength: 0, maxLength: 10 });

for (const engineName of ENGINES) {
  describe(`topics on ${engineName}`, function () {
    let engine: Engine;
    before(async () => {
      engine = await openEngine(engineName, ops, "topic/xs-entry.js");
    });
    after(async () => engine?.close());

    describe("validateTopicFilter (§4.7.1)", () => {
      for (const [filter, valid, why] of FILTERS) {
        it(`${valid ? "accepts" : "refuses"} ${JSON.stringify(filter)} (${why})`, async () => {
          const [code] = await engine.call<(string | null)[]>("validate", "filter", [filter]);
          assert.equal(code, valid ? null : "InvalidTopicFilter");
        });
      }

      it("refuses U+0000 and lone surrogates (§1.5.3)", async () => {
        const codes = await engine.call<(string | null)[]>("validate", "filter", ["a/\u0000", "\ud800/#", "+/\udfff", "a\ud83d"]);
        assert.deepEqual(codes, Array(4).fill("InvalidTopicFilter"));
      });

      it("counts its 65535-byte limit in UTF-8 bytes, not characters (§1.5.3)", async () => {
        const cases = limitCases(engineName, [
          ["€".repeat(21845), true],
          ["€".repeat(21846), false],
          ["a".repeat(65535), true],
          ["a".repeat(65536), false],
          ["a/".repeat(32767) + "#", true],
          ["𝄞".repeat(16384), false],
        ]);
        const codes = await engine.call<(string | null)[]>("validate", "filter", cases.map((c) => c[0]));
        assert.deepEqual(codes, cases.map(([, ok]) => (ok ? null : "InvalidTopicFilter")));
      });

      it("agrees with a level-by-level reference on strings of '/', '+', '#' and others", async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(wildString, { minLength: 1, maxLength: 50 }), async (filters) => {
            const codes = await engine.call<(string | null)[]>("validate", "filter", filters);
            filters.forEach((f, i) => assert.equal(codes[i] === null, referenceValidFilter(f), `${JSON.stringify(f)}: ${codes[i]}`));
          }),
          { numRuns: 200 },
        );
      });
    });

    describe("validateTopic (§4.7.3)", () => {
      for (const [topic, valid, why] of TOPICS) {
        it(`${valid ? "accepts" : "refuses"} ${JSON.stringify(topic)} (${why})`, async () => {
          const [code] = await engine.call<(string | null)[]>("validate", "topic", [topic]);
          assert.equal(code, valid ? null : "InvalidTopic");
        });
      }

      it("counts its 65535-byte limit in UTF-8 bytes, not characters", async () => {
        const cases = limitCases(engineName, [
          ["€".repeat(21844) + "ab", true],
          ["€".repeat(21845) + "a", false],
          ["a".repeat(65535), true],
          ["a".repeat(65536), false],
          ["é".repeat(32767) + "a", true],
          ["é".repeat(32768), false],
        ]);
        const codes = await engine.call<(string | null)[]>("validate", "topic", cases.map((c) => c[0]));
        assert.deepEqual(codes, cases.map(([, ok]) => (ok ? null : "InvalidTopic")));
      });

      it("agrees with the reference on strings of '/', '+', '#' and others", async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(wildString, { minLength: 1, maxLength: 50 }), async (topics) => {
            const codes = await engine.call<(string | null)[]>("validate", "topic", topics);
            topics.forEach((t, i) => assert.equal(codes[i] === null, referenceValidTopic(t), `${JSON.stringify(t)}: ${codes[i]}`));
          }),
          { numRuns: 200 },
        );
      });
    });

    describe("matching (§4.7.1-§4.7.2)", () => {
      for (const [filter, topic, want, why] of MATCHES) {
        it(`${JSON.stringify(filter)} ${want ? "matches" : "does not match"} ${JSON.stringify(topic)} (${why})`, async () => {
          const pair: [string, string] = [filter, topic];
          assert.deepEqual(await engine.call<boolean[]>("matches", [pair]), [want], "topicMatches");
          assert.deepEqual(await engine.call<boolean[]>("matchesGuarded", [pair]), [want], "matchFilter inside a larger buffer");
        });
      }

      it("the reference agrees with every example above", () => {
        for (const [filter, topic, want] of MATCHES) assert.equal(referenceMatch(filter, topic), want, `${filter} vs ${topic}`);
      });

      it("agrees with the split-string reference on generated filters and topics", async () => {
        let matched = 0;
        let total = 0;
        await fc.assert(
          fc.asyncProperty(fc.array(pairArb, { minLength: 1, maxLength: 40 }), async (pairs) => {
            const [plain, guarded] = await Promise.all([engine.call<boolean[]>("matches", pairs), engine.call<boolean[]>("matchesGuarded", pairs)]);
            pairs.forEach(([f, t], i) => {
              const want = referenceMatch(f, t);
              assert.equal(plain[i], want, `topicMatches(${JSON.stringify(f)}, ${JSON.stringify(t)})`);
              assert.equal(guarded[i], want, `matchFilter(${JSON.stringify(f)}, ${JSON.stringify(t)}) inside a larger buffer`);
              matched += want ? 1 : 0;
              total++;
            });
          }),
          { numRuns: engineName === "xs" ? 300 : 1000 },
        );
        // the generators are only useful if they produce both answers often
        assert.ok(matched > total / 5 && matched < (total * 4) / 5, `${matched} of ${total} pairs matched`);
      });
    });

    describe("SubscriptionTable", () => {
      const run = (steps: Step[]) => engine.call<unknown[]>("table", steps);

      it("adds rows in order, replaces a filter's row in place, and deletes", async () => {
        const r = await run([
          { op: "set", filter: "a/#", qos: 1, handler: "h1" },
          { op: "set", filter: "a/+", qos: 0, handler: "h2" },
          { op: "set", filter: "b", qos: 2, handler: "h3" },
          { op: "size" },
          { op: "set", filter: "a/#", qos: 2, handler: "h4" },
          { op: "size" },
          { op: "rows" },
          { op: "get", filter: "a/#" },
          { op: "get", filter: "a" },
          { op: "delete", filter: "a/+" },
          { op: "delete", filter: "a/+" },
          { op: "rows" },
          { op: "set", filter: "a/+", qos: 1, handler: "h5" },
          { op: "rows" },
        ]);
        assert.deepEqual(r, [
          { row: { filter: "a/#", qos: 1, handler: "h1" }, sameRow: false },
          { row: { filter: "a/+", qos: 0, handler: "h2" }, sameRow: false },
          { row: { filter: "b", qos: 2, handler: "h3" }, sameRow: false },
          3,
          { row: { filter: "a/#", qos: 2, handler: "h4" }, sameRow: true },
          3,
          [
            { filter: "a/#", qos: 2, handler: "h4" },
            { filter: "a/+", qos: 0, handler: "h2" },
            { filter: "b", qos: 2, handler: "h3" },
          ],
          { filter: "a/#", qos: 2, handler: "h4" },
          null,
          true,
          false,
          [
            { filter: "a/#", qos: 2, handler: "h4" },
            { filter: "b", qos: 2, handler: "h3" },
          ],
          { row: { filter: "a/+", qos: 1, handler: "h5" }, sameRow: false },
          [
            { filter: "a/#", qos: 2, handler: "h4" },
            { filter: "b", qos: 2, handler: "h3" },
            { filter: "a/+", qos: 1, handler: "h5" },
          ],
        ]);
      });

      it("refuses an invalid filter and leaves the table as it was", async () => {
        const r = await run([
          { op: "set", filter: "a", qos: 0, handler: "h" },
          { op: "set", filter: "a#", qos: 0, handler: "bad" },
          { op: "set", filter: "", qos: 0, handler: "bad" },
          { op: "set", filter: "a/\ud800", qos: 0, handler: "bad" },
          { op: "rows" },
        ]);
        assert.deepEqual(r.slice(1), [
          { error: "InvalidTopicFilter" },
          { error: "InvalidTopicFilter" },
          { error: "InvalidTopicFilter" },
          [{ filter: "a", qos: 0, handler: "h" }],
        ]);
      });

      it("next() visits every matching row once, in order, with the §4.7.2 '$' rule", async () => {
        const filters = ["sport/tennis/player1/#", "sport/#", "#", "+/tennis/+", "sport/tennis/+", "$SYS/#", "+/monitor/Clients", "$SYS/monitor/+", "sport/+", "é/+"];
        const topics = ["sport/tennis/player1", "sport/tennis/player1/ranking", "sport", "sport/", "$SYS/monitor/Clients", "é/ü", "other", "/"];
        const steps: Step[] = filters.map((filter, i) => ({ op: "set", filter, qos: i % 3, handler: `h${i}` }));
        const r = await run([...steps, ...topics.map((topic): Step => ({ op: "route", topic }))]);
        const routes = r.slice(filters.length) as [number, { filter: string }][][];
        topics.forEach((topic, k) => {
          const want = filters.flatMap((f, i) => (referenceMatch(f, topic) ? [[i, f]] : []));
          assert.deepEqual(routes[k].map(([i, row]) => [i, row.filter]), want, topic);
        });
        assert.deepEqual(routes[4].map(([, row]) => row.filter), ["$SYS/#", "$SYS/monitor/+"], "only '$SYS' filters see $SYS");
      });

      it("routes generated topics to exactly the rows the reference matches", async () => {
        await fc.assert(
          fc.asyncProperty(fc.uniqueArray(filterArb, { minLength: 1, maxLength: 8 }), fc.array(topicArb, { minLength: 1, maxLength: 8 }), async (filters, topics) => {
            const steps: Step[] = filters.map((filter, i) => ({ op: "set", filter, qos: 0, handler: `h${i}` }));
            const r = await run([...steps, ...topics.map((topic): Step => ({ op: "route", topic }))]);
            const routes = r.slice(filters.length) as [number, { filter: string }][][];
            topics.forEach((topic, k) => {
              const want = filters.flatMap((f, i) => (referenceMatch(f, topic) ? [[i, f]] : []));
              assert.deepEqual(routes[k].map(([i, row]) => [i, row.filter]), want, topic);
            });
          }),
          { numRuns: engineName === "xs" ? 100 : 300 },
        );
      });
    });

    describe("TopicCache (the decoder's recent topics)", () => {
      /** Whether a kept topic holds an 8-byte chunk that reads as NaN (so it is never found again). */
      const nanChunk = (t: number[]) => {
        if (t.length < 8) return false;
        const starts: number[] = [];
        for (let o = 0; o < t.length - 8; o += 8) starts.push(o);
        starts.push(t.length - 8);
        return starts.some((o) => (t[o] & 0x7f) === 0x7f && (t[o + 1] & 0xf0) === 0xf0);
      };
      /**
       * The cache as the reference sees it: round-robin replacement, exact byte equality,
       * and after `restAfter` misses in a row, `restFor` topics neither looked for nor kept.
       */
      const reference = (steps: { bytes: number[] }[], slots: number, maxLength: number, restAfter: number, restFor: number) => {
        const kept: (number[] | null)[] = Array(slots).fill(null);
        let victim = 0;
        let misses = 0;
        let resting = 0;
        return steps.map(({ bytes }) => {
          if (resting > 0) {
            resting--;
            return [-1, -1];
          }
          const same = (t: number[] | null) => t !== null && t.length === bytes.length && t.every((b, i) => b === bytes[i]) && !nanChunk(t);
          const found = kept.findIndex(same);
          if (found >= 0) misses = 0;
          else if (++misses >= restAfter) {
            misses = 0;
            resting = restFor;
          }
          let added = -1;
          if (found < 0 && resting === 0 && !bytes.includes(0) && bytes.length <= maxLength) {
            added = victim;
            kept[victim] = bytes;
            victim = (victim + 1) % slots;
          }
          return [found, added];
        });
      };
      // bytes that make float64 chunks interesting: NaN patterns (7f f0), sign bits, zeros
      const byteArb = fc.constantFrom(0x61, 0x62, 0x2f, 0x7f, 0xf0, 0xff, 0x80, 0x00, 0xc3, 0xa9);

      it("finds exactly the kept topics, whatever buffer and offset the bytes lie at", async () => {
        await fc.assert(
          fc.asyncProperty(
            // a small pool of topics, repeated, so that finds and near-misses are common
            fc.array(fc.array(byteArb, { minLength: 1, maxLength: 44 }), { minLength: 1, maxLength: 6 }),
            fc.array(fc.record({ pick: fc.nat(), flip: fc.nat(), where: fc.integer({ min: 0, max: 2 }), at: fc.integer({ min: 0, max: 60 }) }), { minLength: 1, maxLength: 40 }),
            fc.integer({ min: 1, max: 5 }),
            fc.constantFrom([1e9, 0], [3, 5], [8, 128]),
            async (pool, picks, slots, [restAfter, restFor]) => {
              const steps = picks.map(({ pick, flip, where, at }) => {
                const bytes = [...pool[pick % pool.length]];
                // now and then a near miss: the same topic with one byte changed
                if (flip % 4 === 0) bytes[flip % bytes.length] ^= 0x01;
                return { bytes, where, at };
              });
              const got = await engine.call<number[][]>("topicCache", steps.map((s) => ({ hex: Buffer.from(s.bytes).toString("hex"), where: s.where, at: s.at })), slots, 40, restAfter, restFor);
              const want = reference(steps, slots, 40, restAfter, restFor);
              assert.deepEqual(got.map(([f, a]) => [f, a]), want);
              // a slot's key changes exactly when it takes a new topic
              const keys = new Map<number, number>();
              got.forEach(([f, a, key]) => {
                const slot = f >= 0 ? f : a;
                if (slot < 0) return;
                if (a >= 0) assert.notEqual(keys.get(slot), key, "a new topic gets a new key");
                else assert.equal(keys.get(slot), key, "a found topic keeps its key");
                keys.set(slot, key);
              });
            },
          ),
          { numRuns: engineName === "xs" ? 150 : 500 },
        );
      });

      it("compares across chunk boundaries: lengths 1 to 40, one byte changed at every position", async () => {
        const steps: { bytes: number[]; where: number; at: number }[] = [];
        for (let n = 1; n <= 40; n++) {
          const t = Array.from({ length: n }, (_, i) => 0x41 + (i % 26));
          steps.push({ bytes: t, where: 1, at: 3 });
          for (let i = 0; i < n; i++) {
            const u = [...t];
            u[i] = 0x61;
            steps.push({ bytes: u, where: (i % 3) as 0 | 1 | 2, at: i % 5 });
          }
          steps.push({ bytes: t, where: 2, at: 11 });
        }
        // resting off: every step is looked up
        const got = await engine.call<number[][]>("topicCache", steps.map((s) => ({ hex: Buffer.from(s.bytes).toString("hex"), where: s.where, at: s.at })), 64, 40, 1e9, 0);
        assert.deepEqual(got.map(([f, a]) => [f, a]), reference(steps, 64, 40, 1e9, 0));
      });
    });
  });
}
