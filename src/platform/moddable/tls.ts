/// <reference path="../../../typings/index.d.ts" />
/**
 * TLS for `mqtts://` brokers on Moddable: the SDK's TLS socket (`embedded:io/socket/tcp/tls`,
 * by reference from `$(MODDABLE)/examples/io/tcp/tlssocket`) over a guarded TCP socket.
 *
 * The guard: the SDK's TLS code runs inside the TCP socket's callbacks, and a failed
 * verification throws there ("certificate: auth err"). An exception that leaves a socket
 * callback aborts the VM, which reboots a device. The TLS socket opens its connection with
 * the TCP class it is given, so we give it one whose callbacks catch: the exception
 * becomes a close reason, and the client backs off and retries.
 *
 * Trust: the CA certificate built in as the resource `xsmqtt-ca.der` (the device tool
 * writes it from `ca=<file>`, PEM or DER), and the SDK's roots whose `ca<N>.der` resources
 * the manifest includes (its `ca.ski` index names them). Verification and the server name
 * (SNI and the certificate's name, from the URL's host) are on unless the build says
 * `tlsVerify=0`. Certificate dates are checked, so the transport waits for a set clock.
 */
import TCP from "embedded:io/socket/tcp";
import TLSSocket from "embedded:io/socket/tcp/tls";
import Instrumentation from "instrumentation";
import Resource from "Resource";
import Time from "time";

/** The CA certificate built into the firmware, when there is one. */
export const CA_RESOURCE = "xsmqtt-ca.der";

export interface TlsOptions {
  /** Check the broker's certificate, its dates and its name (default true). */
  verify?: boolean;
  /** Where the handshake time and its heap cost are reported (one line per connection). */
  log?: (line: string) => void;
}

/** What the transport hands the guarded socket. */
export interface TlsEvents {
  onReadable(count: number): void;
  onWritable(count: number): void;
  onError(): void;
  /** An exception left the TLS code: the connection is over. */
  onFailure(reason: string): void;
}

/** The guard each TCP callback runs under: catches, and samples the heap while the handshake lasts. */
class Guard {
  failed = false;
  handshaking = true;
  readonly started = Time.ticks;
  readonly base: number[] | undefined = heap();
  peakSlots = 0;
  peakChunks = 0;

  constructor(private readonly events: TlsEvents) {}

  run(f: ((n: number) => void) | (() => void), n: number): void {
    if (this.failed) return;
    try {
      (f as (n: number) => void)(n);
    } catch (e) {
      this.failed = true;
      this.events.onFailure(tlsReason(e));
      return;
    }
    if (this.handshaking && this.base) {
      const h = heap()!;
      if (h[0] > this.peakSlots) this.peakSlots = h[0];
      if (h[1] > this.peakChunks) this.peakChunks = h[1];
    }
  }
}

interface GuardedOptions {
  address: string;
  port: number;
  nodelay?: boolean;
  onReadable(count: number): void;
  onWritable(count: number): void;
  onError(): void;
  guard: Guard;
}

/** The TCP class given to the TLS socket: the real socket, with every callback under the guard. */
class GuardedTCP {
  /** Kept by the TLS socket itself. */
  readable = 0;
  writable = 0;
  private tcp: TCP | undefined;

  constructor(options: GuardedOptions) {
    const { guard, onReadable, onWritable, onError } = options;
    this.tcp = new TCP({
      address: options.address,
      port: options.port,
      nodelay: options.nodelay,
      onReadable: (count) => guard.run(onReadable, count),
      onWritable: (count) => guard.run(onWritable, count),
      onError: () => guard.run(onError, 0),
    });
  }

  read(into: ArrayBufferView): number | undefined {
    return this.tcp?.read(into);
  }

  write(data: ArrayBufferView): number {
    const tcp = this.tcp;
    const left = tcp ? tcp.write(data) : undefined;
    return left === undefined ? 0 : left;
  }

  close(): void {
    const tcp = this.tcp;
    this.tcp = undefined;
    tcp?.close();
  }
}

let counters: number[] | null | undefined;

/** XS slot and chunk heap in use, in an instrumented build; undefined otherwise. */
function heap(): number[] | undefined {
  if (counters === undefined) {
    const slots = Instrumentation.map("XS Slot Heap Used");
    const chunks = Instrumentation.map("XS Chunk Heap Used");
    counters = slots === undefined || chunks === undefined || Instrumentation.get(slots) === undefined ? null : [slots, chunks];
  }
  if (counters === null) return undefined;
  return [Instrumentation.get(counters[0]) ?? 0, Instrumentation.get(counters[1]) ?? 0];
}

/** A close reason for an exception from the TLS code. */
export function tlsReason(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  if (message.indexOf("auth err") >= 0)
    return "TLS: the broker's certificate was refused (not signed by a trusted CA, issued for another name, out of date, or sent without its chain)";
  if (message.indexOf("date validation") >= 0) return "TLS: the CA certificate in the build is out of date (or the clock is wrong)";
  return `TLS: ${message}`;
}

/** A TLS connection; throws when it cannot be started (the transport reports the reason). */
export class TlsConnection {
  private readonly guard: Guard;
  private readonly socket: TLSSocket;

  constructor(
    host: string,
    address: string,
    port: number,
    private readonly options: TlsOptions,
    events: TlsEvents,
  ) {
    this.guard = new Guard(events);
    const verify = options.verify !== false;
    const secure: { verify: boolean; certificate?: HostBuffer } = { verify };
    if (Resource.exists(CA_RESOURCE)) secure.certificate = new Resource(CA_RESOURCE);
    this.socket = new TLSSocket({
      host,
      address,
      port,
      nodelay: true,
      TCP: { io: GuardedTCP },
      secure,
      guard: this.guard,
      onReadable: (count: number) => events.onReadable(count),
      onWritable: (count: number) => {
        if (this.guard.handshaking) this.established(host);
        events.onWritable(count);
      },
      onError: () => events.onError(),
    });
  }

  private established(host: string): void {
    const g = this.guard;
    g.handshaking = false;
    const log = this.options.log;
    if (!log) return;
    const ms = (Time.ticks - g.started) | 0;
    const now = heap();
    const base = g.base;
    const cost = base && now ? `; heap +${now[0] - base[0]} slots, +${now[1] - base[1]} chunk bytes (peak +${g.peakSlots - base[0]}, +${g.peakChunks - base[1]})` : "";
    log(`tls: ${host} ${this.options.verify === false ? "connected, NOT verified," : "verified"} in ${ms} ms${cost}`);
  }

  read(into: Uint8Array): number | undefined {
    return this.socket.read(into);
  }

  write(data: Uint8Array): number | undefined {
    return this.socket.write(data);
  }

  close(): void {
    this.guard.failed = true; // no callbacks after this
    this.socket.close();
  }
}
