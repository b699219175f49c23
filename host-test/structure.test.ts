/**
 * Rules of the source itself, checked on the TypeScript: every error code is raised
 * somewhere in the library; the fixed-header first bytes come from the codec's one table;
 * the shipped tools import nothing from the tests.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCode, ProtocolCode } from "../src/mqtt/errors.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function sources(dir: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith(".ts")) out.push({ file: rel, text: fs.readFileSync(path.join(root, rel), "utf8") });
  }
  return out;
}

/** The source without comments, so a code named in a comment does not count as raised. */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");

describe("source structure", () => {
  const lib = sources("src/mqtt");

  it("raises every ErrorCode and ProtocolCode somewhere in src/mqtt", () => {
    // the tables define codes as `Name: "Name"`; a use reads `ErrorCode.Name`
    const all = lib.map((s) => code(s.text)).join("\n");
    const missing: string[] = [];
    for (const name of Object.keys(ErrorCode)) if (!new RegExp(`ErrorCode\\.${name}\\b`).test(all)) missing.push(`ErrorCode.${name}`);
    // the decoder imports ProtocolCode as C
    for (const name of Object.keys(ProtocolCode)) if (!new RegExp(`(ProtocolCode|\\bC)\\.${name}\\b`).test(all)) missing.push(`ProtocolCode.${name}`);
    assert.deepEqual(missing, []);
  });

  it("writes fixed-header first bytes only through the FIRST_BYTE table (no literal 0x30, 0x62, 0x82, 0xa2 in src/mqtt)", () => {
    const hits: string[] = [];
    for (const s of lib) {
      if (s.file.endsWith("packet.ts")) continue; // the table itself
      if (s.file.endsWith("reasons.ts")) continue; // MQTT 5 reason codes, which share these values
      code(s.text)
        .split("\n")
        .forEach((line, i) => {
          if (/\b0x(30|31|62|82|a2)\b/i.test(line)) hits.push(`${s.file}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(hits, []);
  });

  it("measures PUBLISH sizes in one function (no remaining-length arithmetic outside the encoders)", () => {
    const hits: string[] = [];
    for (const s of lib) {
      // encode5.ts sizes its property blocks, and measures PUBLISH through measurePublish
      if (s.file.endsWith("encode.ts") || s.file.endsWith("encode5.ts")) continue;
      code(s.text)
        .split("\n")
        .forEach((line, i) => {
          if (/varintSize\(|remaining\s*<\s*128/.test(line)) hits.push(`${s.file}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(hits, []);
  });
});
