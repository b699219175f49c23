/**
 * The layers of the host side (see /work/shared/design.md): the shipped CLI and `npm
 * start` import nothing from host-test/, and the CLI's dispatcher and its subcommands
 * import each other in one direction only. Read from the compiled modules, static and
 * dynamic imports alike, so what is checked is what Node loads.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Relative imports of every module reachable from `entries`, by absolute path. */
function importGraph(entries: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const visit = (file: string) => {
    if (graph.has(file)) return;
    const deps: string[] = [];
    graph.set(file, deps);
    const source = fs.readFileSync(file, "utf8");
    const specifiers = /(?:^|[;\s])(?:import|export)\s[^'"]*?\bfrom\s*["'](\.[^"']+)["']|\bimport\(\s*["'](\.[^"']+)["']\s*\)|(?:^|[;\s])import\s*["'](\.[^"']+)["']/g;
    for (const m of source.matchAll(specifiers)) {
      const dep = path.resolve(path.dirname(file), m[1] ?? m[2] ?? m[3]);
      deps.push(dep);
      visit(dep);
    }
  };
  for (const e of entries) visit(path.join(dist, e));
  return graph;
}

/** Every cycle found by a depth-first walk, as a list of modules (relative to dist). */
function cycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const found: string[][] = [];
  const walk = (file: string, stack: string[]) => {
    state.set(file, "open");
    stack.push(file);
    for (const d of graph.get(file) ?? []) {
      if (state.get(d) === "open") found.push([...stack.slice(stack.indexOf(d)), d].map((f) => path.relative(dist, f)));
      else if (!state.has(d)) walk(d, stack);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const f of graph.keys()) if (!state.has(f)) walk(f, []);
  return found;
}

describe("layers of the host side", () => {
  const graph = importGraph(["tools/cli.js", "tools/start.js"]);

  it("the graph is read: the CLI reaches its subcommands, the runtime and the client", () => {
    const reached = [...graph.keys()].map((f) => path.relative(dist, f));
    for (const m of ["tools/commands/pub.js", "tools/commands/mqtt/link.js", "tools/runtime/engine.js", "tools/runtime/xs/bridge.js", "src/mqtt/client.js"]) assert.ok(reached.includes(m), m);
  });

  it("the CLI and npm start import nothing from host-test/", () => {
    const fromTests = [...graph.keys()].map((f) => path.relative(dist, f)).filter((f) => f.startsWith("host-test/"));
    assert.deepEqual(fromTests, []);
  });

  it("no import cycles among the modules the CLI and npm start load", () => {
    assert.deepEqual(cycles(graph), []);
  });
});
