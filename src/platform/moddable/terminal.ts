/// <reference path="../../../typings/index.d.ts" />
/**
 * The serial console: lines out through `trace` (the UART in a release build), lines in
 * from whatever byte source the hardware offers, assembled in a fixed buffer.
 */
import type { SerialConsole } from "../../app/board.js";
import { decodeUtf8 } from "../../mqtt/utf8.js";

/** Delivers received bytes: `bytes[0, count)`, valid only during the call. */
export type ByteSink = (bytes: Uint8Array, count: number) => void;

/** Where console input comes from: the UART on a device, a tty in the simulator. */
export interface ByteInput {
  start(sink: ByteSink): void;
}

const CR = 13;
const LF = 10;

/** The board's SerialConsole; `input` null means output only. */
export class TraceConsole implements SerialConsole {
  private handler: ((line: string) => void) | null = null;
  private readonly line: Uint8Array;
  private length = 0;
  private overflow = false;
  private started = false;

  constructor(
    private readonly input: ByteInput | null,
    maxLine = 256,
  ) {
    this.line = new Uint8Array(maxLine);
  }

  write(line: string): void {
    trace(line, "\n");
  }

  onLine(handler: (line: string) => void): void {
    this.handler = handler;
    if (this.input && !this.started) {
      this.started = true;
      this.input.start((bytes, count) => this.receive(bytes, count));
    }
  }

  /** Feeds received bytes; each CR or LF ends a line (empty lines are skipped). */
  receive(bytes: Uint8Array, count: number): void {
    for (let i = 0; i < count; i++) {
      const c = bytes[i];
      if (c === CR || c === LF) {
        if (this.overflow) this.write(`error line longer than ${this.line.length} bytes`);
        else if (this.length > 0) this.handler?.(decodeUtf8(this.line, 0, this.length));
        this.length = 0;
        this.overflow = false;
      } else if (this.length < this.line.length) this.line[this.length++] = c;
      else this.overflow = true;
    }
  }
}
