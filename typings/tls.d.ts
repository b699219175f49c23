/**
 * The Moddable SDK's TLS socket (`$(MODDABLE)/examples/io/tcp/tlssocket`, module
 * `embedded:io/socket/tcp/tls`, TLS 1.2 over `$(MODDABLE)/modules/crypt`), the `Resource`
 * module for data built into the firmware, and `instrumentation` (heap counters, live in
 * instrumented and debug builds only). Declared from the SDK's behaviour; only what we call.
 */
declare module "embedded:io/socket/tcp/tls" {
  /** The TCP class the TLS socket opens its connection with; it is given every option below. */
  export interface TCPClass {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    new (options: any): unknown;
  }

  export interface TLSSocketOptions {
    /** Server name: SNI, and the name the certificate must carry. */
    host: string;
    /** Dotted IPv4 address to connect to (the TCP socket does not resolve). */
    address: string;
    port: number;
    nodelay?: boolean;
    TCP: { io: TCPClass };
    secure: {
      /** One trusted CA certificate, DER. The SDK also trusts the `ca<N>.der` resources its `ca.ski` index names. */
      certificate?: ArrayBuffer | HostBuffer;
      /** Check the chain, dates and name (default true). */
      verify?: boolean;
    };
    onReadable?(count: number): void;
    /** Handshake done (first call), then room to write, `count` less an estimate of TLS overhead. */
    onWritable?(count: number): void;
    onError?(): void;
    /** Passed through to the TCP class (ours: the guard). */
    [key: string]: unknown;
  }

  export default class TLSSocket {
    constructor(options: TLSSocketOptions);
    /** Copies up to `into.byteLength` decrypted bytes into `into`; returns the count. */
    read(into: ArrayBufferView): number | undefined;
    /** Sends `data` as one record (at most 16 KB) and returns an estimate of the room left. Throws over 16 KB. */
    write(data: ArrayBufferView): number;
    close(): void;
  }
}

/** A read-only buffer in flash (a Resource). */
interface HostBuffer {
  readonly byteLength: number;
}

declare module "Resource" {
  export default class Resource implements HostBuffer {
    constructor(name: string);
    readonly byteLength: number;
    static exists(name: string): boolean;
  }
}

declare module "instrumentation" {
  export default class Instrumentation {
    /** The counter's value; undefined in a build without instrumentation. */
    static get(what: number): number | undefined;
    /** The index of a counter by its name ("XS Slot Heap Used", "XS Chunk Heap Used"); undefined when absent. */
    static map(name: string): number | undefined;
  }
}
