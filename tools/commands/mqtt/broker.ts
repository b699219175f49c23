/**
 * The broker a command line names, resolved: address, TLS on or off, and the TLS
 * material read from the files the options name.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import tls from "node:tls";
import type { Platform } from "../../../src/mqtt/platform.js";
import type { NodeBroker } from "../../../src/platform/node/index.js";
import { Failure, type Options } from "./flags.js";

/** The whole file, or a {@link Failure} naming the option it came from. */
export function readOptionFile(file: string, option: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Failure(`Error: cannot read ${option} '${file}': ${(e as Error).message}`);
  }
}

/** Whether any TLS option is in play (mosquitto also turns TLS on for port 8883). */
export function usesTls(o: Options): boolean {
  return o.cafile !== null || o.capath !== null || o.cert !== null || o.osCerts || o.port === 8883;
}

/** The CA certificates of a directory: every file in it that holds a PEM certificate. */
function readCaPath(dir: string): string {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    throw new Failure(`Error: cannot read --capath '${dir}': ${(e as Error).message}`);
  }
  const pems: string[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      const text = readFileSync(file, "utf8");
      if (text.includes("-----BEGIN CERTIFICATE-----")) pems.push(text);
    } catch {
      // unreadable entries are skipped, as OpenSSL's hashed-directory lookup would
    }
  }
  if (pems.length === 0) throw new Failure(`Error: --capath '${dir}' holds no PEM certificates.`);
  return pems.join("\n");
}

/**
 * The broker entry: address, and TLS settings as PEM text for the Node transport. Reads
 * the TLS files. `--insecure`, as mosquitto means it: the certificate chain is still
 * verified against the CAs, but not the host name in it; for this connection only.
 */
export function brokerOf(o: Options): NodeBroker {
  const secure = usesTls(o);
  const broker: NodeBroker = { host: o.host ?? "127.0.0.1", port: o.port ?? (secure ? 8883 : 1883) };
  if (!secure) return broker;
  broker.tls = true;
  // the default host is "localhost": certificates name it so, though we dial 127.0.0.1
  if (o.host === null) broker.servername = "localhost";
  const ca: string[] = [];
  if (o.cafile !== null) ca.push(readOptionFile(o.cafile, "--cafile").toString("utf8"));
  if (o.capath !== null) ca.push(readCaPath(o.capath));
  if (ca.length > 0) broker.ca = o.osCerts ? [...tls.rootCertificates, ...ca].join("\n") : ca.join("\n");
  if (o.cert !== null) broker.cert = readOptionFile(o.cert, "--cert").toString("utf8");
  if (o.key !== null) broker.key = readOptionFile(o.key, "--key").toString("utf8");
  if (o.insecure) broker.checkServerName = false;
  return broker;
}

/**
 * `platform`, dialing `broker` with its TLS settings whenever the client asks for the
 * broker's address. The client (inside XS, perhaps) is given only the address
 * ({@link NodeBroker} without TLS material): certificates and keys never cross into XS.
 */
export function withBroker(platform: Platform, broker: NodeBroker): Platform {
  return {
    ...platform,
    connect: (address, sink) => platform.connect(address.host === broker.host && address.port === broker.port ? broker : address, sink),
  };
}

/** The part of `broker` the client needs: where, and whether TLS. */
export function addressOf(broker: NodeBroker): NodeBroker {
  return broker.tls ? { host: broker.host, port: broker.port, tls: true } : { host: broker.host, port: broker.port };
}
