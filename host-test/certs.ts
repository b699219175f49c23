/**
 * Test certificates, made with openssl at test time: a CA, a server certificate for
 * 127.0.0.1/localhost signed by it, a client certificate signed by it, and a second,
 * unrelated CA for "unknown CA" cases. Nothing is committed; each call makes a fresh set.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface TestCerts {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here. */
  otherCaCert: string;
  /** PEM text of each, for transports that take contents. */
  pem: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; otherCa: string };
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** Makes the set; `serverNames` go into the server certificate's subjectAltName. */
export function makeCerts(serverNames: string[] = ["IP:127.0.0.1", "DNS:localhost"]): TestCerts {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-certs-"));
  const ca = (name: string) => {
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.crt`], dir);
  };
  const leaf = (name: string, cn: string, ext: string) => {
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${cn}`, "-keyout", `${name}.key`, "-out", `${name}.csr`], dir);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.crt`], dir);
  };
  ca("ca");
  ca("other-ca");
  leaf("server", "xsmqtt test server", `subjectAltName=${serverNames.join(",")}\nextendedKeyUsage=serverAuth\n`);
  leaf("client", "xsmqtt-test-client", "extendedKeyUsage=clientAuth\n");
  const p = (f: string) => path.join(dir, f);
  // mosquitto started as root drops to its own user: it must be able to read them (test keys only)
  fs.chmodSync(dir, 0o755);
  for (const f of fs.readdirSync(dir)) fs.chmodSync(p(f), 0o644);
  const read = (f: string) => fs.readFileSync(p(f), "utf8");
  return {
    dir,
    caCert: p("ca.crt"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    clientCert: p("client.crt"),
    clientKey: p("client.key"),
    otherCaCert: p("other-ca.crt"),
    pem: { ca: read("ca.crt"), serverCert: read("server.crt"), serverKey: read("server.key"), clientCert: read("client.crt"), clientKey: read("client.key"), otherCa: read("other-ca.crt") },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
