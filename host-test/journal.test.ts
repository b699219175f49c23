/**
 * The readings journal (src/app/journal.ts): every case of journal/cases.ts on Node and
 * inside XS (what survives a reload, torn and corrupt last writes at every byte offset,
 * the budget and its drop count across reboots, rewrites, forwarding, the grace, failing
 * flash), and the host's folder files on Node. The firmware suites (app, reboot, battery)
 * run the journal on both engines against real brokers.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Journal } from "../src/app/journal.js";
import { NodeFiles } from "../src/platform/node/files.js";
import * as ops from "./journal/ops.js";
import { ENGINES, openEngine, type Engine } from "./engines.js";

const enc = new TextEncoder();
const TOPIC = "fw/dev/env";
const TOPIC_BYTES = enc.encode(TOPIC);
const payload = (n: number) => enc.encode(`{"t":${1700000000000 + n * 1000},"n":${n},"temperature":21.${n % 10}}`);

function journal(files: NodeFiles): Journal {
  const j = new Journal(files, { budget: 4096 });
  j.setTopics([TOPIC], [TOPIC_BYTES]);
  return j;
}

for (const engineName of ENGINES) {
  describe(`readings journal (src/app/journal.ts, ${engineName})`, () => {
    let engine: Engine;
    before(async () => void (engine = await openEngine(engineName, ops, "journal/xs-entry.js")));
    after(() => engine.close());
    for (const title of ops.titles()) it(title, async () => assert.equal(await engine.call("run", title), "ok"));
  });
}

describe("readings journal on the host's folder files (src/platform/node/files.ts)", () => {
  it("on the host's files: a reload after the process's writes sees every committed record (fsync'd folder files)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-journal-"));
    try {
      const files = new NodeFiles(dir);
      const j = journal(files);
      for (let n = 0; n < 4; n++) j.take(TOPIC_BYTES, payload(n));
      j.commit();
      // no close: as after a SIGKILL
      const r = journal(new NodeFiles(dir));
      assert.equal(r.stats.recovered, 4);
      assert.equal(fs.statSync(path.join(dir, "readings.log")).size % 1, 0);
      assert.ok(!fs.existsSync(path.join(dir, "readings.log.new")));
      assert.throws(() => files.open("../escape", true), /plain file name/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

});
