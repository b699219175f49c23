/**
 * The `xsmqtt` command: a dispatcher over subcommands, each a module in `commands/` that
 * is loaded only when asked for, so a subcommand that needs a network stack or a serial
 * port costs nothing to the ones that do not.
 *
 * Exit codes, for every subcommand: 0 success, 1 some input failed (the rest was still
 * processed), 2 the command line itself is wrong.
 */
import { processIo, UsageError, type Command, type CommandIo } from "./commands/command.js";

/** Subcommands by name, each loaded on first use. Add new ones here. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  decode: { summary: "print MQTT packets given as hex as JSON, one per line", load: () => import("./commands/decode.js") },
  encode: { summary: "print the hex of MQTT packets given as JSON objects", load: () => import("./commands/encode.js") },
  pub: { summary: "publish messages; mosquitto_pub's options, on Node or in XS", load: () => import("./commands/pub.js") },
  sub: { summary: "print subscribed messages; mosquitto_sub's options, on Node or in XS", load: () => import("./commands/sub.js") },
  monitor: { summary: "show a device's serial console, timestamped; survives resets and unplugs", load: () => import("./commands/monitor.js") },
  provision: { summary: "store Wi-Fi and broker settings in a device over its serial console", load: () => import("./commands/provision.js") },
};

function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    "usage: xsmqtt <command> [options]",
    "",
    "MQTT 3.1.1 tools for xsmqtt.",
    "",
    "commands:",
    ...rows,
    `  ${"help".padEnd(width)}  show this text, or a command's: xsmqtt help <command>`,
    "",
    "Exit status: 0 success, 1 some input failed, 2 wrong command line. pub and sub exit",
    "as mosquitto_pub and mosquitto_sub do: 1 for a wrong command line or a failure, the",
    "CONNACK code when the broker refuses, 7 when a one-shot pub loses its connection,",
    "27 when sub -W runs out.",
    "",
  ].join("\n");
}

/** `help` with no name: the overview and every command's usage. With a name: that command's. */
async function help(names: string[], io: CommandIo): Promise<number> {
  if (names.length === 0) {
    io.out(overview());
    for (const c of Object.values(COMMANDS)) io.out("\n" + (await c.load()).usage);
    return 0;
  }
  const c = COMMANDS[names[0]];
  if (!c) {
    io.err(`xsmqtt: no command "${names[0]}"\n\n${overview()}`);
    return 2;
  }
  io.out((await c.load()).usage);
  return 0;
}

/** Runs the command line `argv` (without node and the script); sets `process.exitCode`. */
export async function main(argv: string[], io: CommandIo = processIo): Promise<void> {
  // a reader that went away (`xsmqtt decode ... | head`) ends the command, as SIGPIPE would
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    process.exit(process.exitCode ?? 0);
  });
  process.exitCode = await run(argv, io);
}

/** {@link main} without the process: resolves to the exit code. */
export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "help" || name === "--help" || name === "-h") return help(rest, io);
  const entry = name === undefined ? undefined : COMMANDS[name];
  if (!entry) {
    io.err((name === undefined ? "xsmqtt: no command given" : `xsmqtt: unknown command "${name}"`) + "\n\n" + overview());
    return 2;
  }
  const command = await entry.load();
  const end = rest.indexOf("--");
  const options = end < 0 ? rest : rest.slice(0, end);
  if ((command.helpFlags ?? ["--help", "-h"]).some((f) => options.includes(f))) {
    io.out(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`xsmqtt ${name}: ${e.message}\n\n${command.usage}`);
      return 2;
    }
    // unreadable input file and the like: say what, without a stack
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === "string" && err.syscall) {
      io.err(`xsmqtt ${name}: ${err.message}\n`);
      return 1;
    }
    throw e;
  }
}
