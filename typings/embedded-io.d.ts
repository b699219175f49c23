/**
 * ECMA-419 IO classes, as Moddable implements them on the ESP32 (lwIP, ESP-IDF drivers) and,
 * for sockets and serial, in the desktop simulator. Only the "buffer" data format is used.
 */

/** Bytes the IO classes read from or write into. */
type IOBuffer = ArrayBuffer | ArrayBufferView;

declare module "embedded:io/socket/tcp" {
  export interface TCPOptions {
    /** Dotted IPv4 address: Moddable's implementation does not resolve host names. */
    address: string;
    port: number;
    nodelay?: boolean;
    /** `count` bytes can be read. */
    onReadable?(this: TCP, count: number): void;
    /** The connection is open (first call) or send space freed: `count` bytes may be written. */
    onWritable?(this: TCP, count: number): void;
    /** Connection refused, reset or closed by the peer; unread bytes were delivered first. */
    onError?(this: TCP): void;
  }

  export default class TCP {
    constructor(options: TCPOptions);
    /**
     * Fills `into` (its whole length, which must not exceed the bytes available) and returns
     * its length; undefined when nothing is readable.
     */
    read(into: IOBuffer): number | undefined;
    /** A new ArrayBuffer with `count` bytes (default: all available); undefined when nothing is readable. */
    read(count?: number): ArrayBuffer | undefined;
    /**
     * Sends all of `data` and returns the send space left; throws "would block" when `data`
     * is larger than the space, and returns undefined once the socket has failed.
     */
    write(data: IOBuffer): number | undefined;
    close(): void;
    readonly remoteAddress: string;
    readonly remotePort: number;
  }
}

declare module "embedded:io/i2c" {
  export interface I2COptions {
    data: number;
    clock: number;
    hz: number;
    /** 7-bit device address. */
    address: number;
    port?: number;
    /** ms to wait for the bus (ESP32; default 400). */
    timeout?: number;
  }

  /** One device on an I2C bus; several devices may share the same pins. */
  export default class I2C {
    constructor(options: I2COptions);
    read(into: IOBuffer, stop?: boolean): number;
    read(count: number, stop?: boolean): ArrayBuffer;
    write(data: IOBuffer, stop?: boolean): void;
    close(): void;
  }
}

declare module "embedded:io/smbus" {
  import type { I2COptions } from "embedded:io/i2c";

  /** An I2C device addressed by register (SMBus transactions). */
  export default class SMBus {
    constructor(options: I2COptions);
    readUint8(register: number): number;
    readUint16(register: number, bigEndian?: boolean): number;
    writeUint8(register: number, value: number): void;
    writeUint16(register: number, value: number, bigEndian?: boolean): void;
    close(): void;
  }
}

declare module "embedded:io/digital" {
  export interface DigitalOptions {
    pin: number;
    mode: number;
    edge?: number;
    onReadable?(this: Digital): void;
  }

  export default class Digital {
    constructor(options: DigitalOptions);
    read(): 0 | 1;
    write(value: 0 | 1): void;
    close(): void;
    static readonly Input: number;
    static readonly InputPullUp: number;
    static readonly InputPullDown: number;
    static readonly Output: number;
    static readonly OutputOpenDrain: number;
    static readonly Rising: number;
    static readonly Falling: number;
  }
}

declare module "embedded:io/serial" {
  export interface SerialOptions {
    baud: number;
    /** ESP32: UART number and pins. */
    port?: number;
    receive?: number;
    transmit?: number;
    /** Desktop simulator: path of the serial device to open (a tty or pty). */
    device?: string;
    onReadable?(this: Serial, count: number): void;
    onError?(this: Serial): void;
  }

  export default class Serial {
    constructor(options: SerialOptions);
    /** Up to `count` (default: all available) bytes as a new ArrayBuffer; undefined when none. */
    read(count?: number): ArrayBuffer | undefined;
    write(data: IOBuffer): void;
    close(): void;
  }
}
