#!/usr/bin/env node
// The xsmqtt command: runs the compiled CLI (npm install builds it; see README).
import("../dist/tools/cli.js").then((m) => m.main(process.argv.slice(2)));
