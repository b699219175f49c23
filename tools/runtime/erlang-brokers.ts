/**
 * The Erlang brokers of the interop matrix, each started from Debian's package on free
 * loopback ports with a generated config in a temporary directory, and stopped with its
 * whole process group: RabbitMQ's MQTT plugin (3.1.1; it grants QoS 1 for QoS 2 and
 * closes a 5.0 CONNECT) and ejabberd's mod_mqtt (3.1.1 and 5.0; anonymous login, so a
 * client gives a user name). Erlang's port mapper (epmd) listens on loopback only, and is
 * stopped when the last broker stops if none ran before.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort, type Broker } from "./brokers.js";

const RABBIT = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const EJABBERDCTL = "/usr/sbin/ejabberdctl";

/** What the machine lacks for the Erlang brokers (their packages; ejabberd runs as root or its user), or null. */
export function erlangBrokersMissing(): string | null {
  if (!fs.existsSync(RABBIT)) return "rabbitmq-server is not installed (apt-get install rabbitmq-server)";
  if (!fs.existsSync(EJABBERDCTL)) return "ejabberd is not installed (apt-get install ejabberd)";
  if (process.getuid?.() !== 0) return "ejabberd's ejabberdctl runs only as root or its own user";
  return null;
}

let running = 0;
let epmdBefore: boolean | null = null;
let n = 0;

function epmdUp(): boolean {
  return spawnSync("epmd", ["-names"], { encoding: "utf8", env: { ...process.env, ERL_EPMD_ADDRESS: "127.0.0.1" } }).status === 0;
}

async function listening(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => (s.destroy(), r(true)));
    s.on("error", () => r(false));
  });
}

export interface ErlangBroker extends Broker {
  name: string;
  dir: string;
  log(): string;
}

async function launch(name: string, dir: string, port: number, cmd: string, args: string[], env: NodeJS.ProcessEnv, logFile: string, ms: number): Promise<ErlangBroker> {
  if (running === 0 && epmdBefore === null) epmdBefore = epmdUp();
  const child: ChildProcess = spawn(cmd, args, { cwd: dir, env: { ...process.env, ERL_EPMD_ADDRESS: "127.0.0.1", ...env }, stdio: ["ignore", fs.openSync(logFile, "a"), fs.openSync(logFile, "a")], detached: true });
  running++;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");
  const stop = async () => {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // gone already
    }
    const t = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // gone
      }
    }, 5000);
    await exited;
    clearTimeout(t);
    // the Erlang VM under su may sit in a group of its own: make sure nothing still listens
    spawnSync("pkill", ["-KILL", "-f", `${name}@localhost`]);
    for (let i = 0; i < 50 && (await listening(port)); i++) await new Promise((r) => setTimeout(r, 100));
    if (--running === 0 && epmdBefore === false) spawnSync("epmd", ["-kill"], { env: { ...process.env, ERL_EPMD_ADDRESS: "127.0.0.1" } });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + ms;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not listen on ${port} within ${ms} ms:\n${log().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name, dir, port, host: "127.0.0.1", log, close: stop };
}

/** RabbitMQ 3 with its MQTT plugin on a free port (it takes about 12 s to start). */
export async function startRabbitMq(): Promise<ErlangBroker> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-rabbitmq-"));
  const port = await freePort();
  const dist = await freePort();
  const name = `xsmqtt-rabbit-${process.pid}-${++n}`;
  fs.writeFileSync(
    path.join(dir, "rabbitmq.conf"),
    [`listeners.tcp = none`, `mqtt.listeners.tcp.default = 127.0.0.1:${port}`, `mqtt.allow_anonymous = true`, `loopback_users = none`, `log.console = true`, `log.file = false`].join("\n") + "\n",
  );
  fs.writeFileSync(path.join(dir, "enabled_plugins"), "[rabbitmq_mqtt].\n");
  const env = {
    HOME: dir,
    RABBITMQ_NODENAME: `${name}@localhost`,
    RABBITMQ_CONFIG_FILE: path.join(dir, "rabbitmq"),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, "enabled_plugins"),
    RABBITMQ_MNESIA_BASE: path.join(dir, "mnesia"),
    RABBITMQ_LOG_BASE: path.join(dir, "log"),
    RABBITMQ_PID_FILE: path.join(dir, "pid"),
    RABBITMQ_DIST_PORT: String(dist),
  };
  return launch(name, dir, port, RABBIT, [], env, path.join(dir, "console.log"), 60000);
}

/** ejabberd with mod_mqtt on a free port, anonymous login (about 3 s to start). */
export async function startEjabberd(): Promise<ErlangBroker> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xsmqtt-ejabberd-"));
  const port = await freePort();
  const name = `xsmqtt-ejabberd-${process.pid}-${++n}`;
  const config = [
    "hosts: [localhost]",
    "loglevel: warning",
    "listen:",
    `  - {port: ${port}, ip: "127.0.0.1", module: mod_mqtt}`,
    "auth_method: [anonymous]",
    "anonymous_protocol: login_anon",
    "allow_multiple_connections: true",
    "acl:",
    "  local:",
    '    user_regexp: ""',
    "access_rules:",
    "  local:",
    "    allow: all",
    "modules:",
    "  mod_mqtt:",
    "    access_subscribe:",
    '      "#": [{allow: all}]',
    "    access_publish:",
    '      "#": [{allow: all}]',
  ];
  fs.writeFileSync(path.join(dir, "ejabberd.yml"), config.join("\n") + "\n");
  fs.writeFileSync(path.join(dir, "ejabberdctl.cfg"), `ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"\nEJABBERD_PID_PATH=${dir}/pid\nINET_DIST_INTERFACE=127.0.0.1\n`);
  fs.mkdirSync(path.join(dir, "spool"));
  fs.mkdirSync(path.join(dir, "logs"));
  // ejabberdctl started as root runs the server as the ejabberd user
  spawnSync("chown", ["-R", "ejabberd", dir]);
  const args = ["--config", path.join(dir, "ejabberd.yml"), "--ctl-config", path.join(dir, "ejabberdctl.cfg"), "--logs", path.join(dir, "logs"), "--spool", path.join(dir, "spool"), "--node", `${name}@localhost`, "foreground"];
  return launch(name, dir, port, EJABBERDCTL, args, {}, path.join(dir, "console.log"), 30000);
}
