/**
 * What the `xsmqtt` dispatcher (../cli.ts) and its subcommands share: the subcommand
 * contract, the process's standard streams, and option parsing. The dispatcher loads
 * subcommands; subcommands import this, never the dispatcher, so imports point one way.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Where a subcommand's input lines come from. */
export interface InputSource {
  /** Read this file, if given. */
  file?: string;
  /** Otherwise these lines, if given; otherwise standard input. */
  inline?: readonly string[];
}

/** Everything a subcommand touches outside itself; {@link main} passes the process's. */
export interface CommandIo {
  /** The input's lines without their line ends. Rejects if the file cannot be read. */
  lines(source: InputSource): AsyncIterable<string>;
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
}

/** A subcommand module: `commands/<name>.ts`. */
export interface Command {
  /** Usage and examples, printed by `xsmqtt help <name>` and `xsmqtt <name> --help`. */
  readonly usage: string;
  /** Runs with the arguments after the subcommand's name; resolves to the exit code. */
  run(args: string[], io: CommandIo): Promise<number>;
  /**
   * The options that print the usage instead of running; default `--help` and `-h`.
   * `pub` and `sub` take only `--help`: their `-h` is mosquitto's host option.
   */
  readonly helpFlags?: readonly string[];
}

/** Thrown by a subcommand for a wrong command line: {@link main} prints it with the usage and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Lines of the file, the inline lines, or standard input; CRLF and LF both end a line. */
async function* fileLines(source: InputSource): AsyncIterable<string> {
  if (source.file === undefined && source.inline) {
    yield* source.inline;
    return;
  }
  if (source.file === undefined && process.stdin.isTTY) process.stderr.write("(reading standard input; end it with Ctrl-D)\n");
  const input = source.file === undefined ? process.stdin : createReadStream(source.file, { encoding: "utf8" });
  // the iterator rethrows the stream's errors (ENOENT, EISDIR) to the command
  let first = true;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    // a byte-order mark, as Windows editors write it, is not part of the first line
    yield first && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
    first = false;
  }
}

/** The process's standard streams. */
export const processIo: CommandIo = {
  lines: fileLines,
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/**
 * Parses a subcommand's options with node:util's parseArgs, turning its errors into
 * {@link UsageError}. Every command accepts `-h`/`--help`.
 */
export function parseOptions<O extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
