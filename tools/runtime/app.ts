/**
 * The firmware on the simulated host board as a module of ops (see engine.ts): the same
 * compiled file runs in this process (Node platform) and inside XS (app-xs-entry.ts), for
 * `npm start` and the app suite. Console lines go to the host as `console` events unless
 * a local run gives its own terminal (a serial port).
 */
import { startApp, type App } from "../../src/app/app.js";
import type { Files, SerialConsole, Storage, WakeReason } from "../../src/app/board.js";
import type { BuildConfig } from "../../src/app/config.js";
import type { Platform } from "../../src/mqtt/platform.js";
import hostDefinition from "../../boards/host.js";
import { createHostBoard, MemoryStorage, type HostBoard } from "../../src/platform/host/board.js";

/** What only a run in this process can give the firmware. */
export interface LocalDevice {
  /** Settings storage (a file); default in memory, from the `start` op's settings. */
  storage?: Storage;
  /** The console (a serial port); default `console` events and the `line` op. */
  terminal?: SerialConsole;
  /** The board's flash files (a folder); default none, or what the `start` op's `files` asks for. */
  files?: Files;
}

/**
 * The ops. `hostFiles` are files the host keeps for this run (in XS, through the bridge),
 * used when `start` is told `{files: true}`.
 */
/** Settings in memory whose changes go out as `setting` events. */
class ReportedStorage extends MemoryStorage {
  constructor(
    initial: Record<string, string>,
    private emit: (event: object) => void,
  ) {
    super(initial);
  }
  override set(key: string, value: string): void {
    super.set(key, value);
    this.emit({ type: "setting", key, value });
  }
  override delete(key: string): void {
    super.delete(key);
    this.emit({ type: "setting", key, value: null });
  }
}

export function makeAppOps(platform: Platform, emit: (event: object) => void, local: LocalDevice = {}, hostFiles?: Files) {
  let app: App | null = null;
  let board: HostBoard | null = null;
  let lineHandler: ((line: string) => void) | null = null;
  const terminal: SerialConsole = local.terminal ?? { write: (line) => emit({ type: "console", line }), onLine: (h) => (lineHandler = h) };
  // "restart" from a command: the old app stops now, the new one boots once the command is done
  const rebootTimer = platform.timer(() => boot());
  let boot = () => {};
  return {
    /**
     * Boots the firmware. `options.files`: use the host's files (see above);
     * `options.settingEvents`: report every change to the settings as a `setting` event
     * `{key, value}` (value null when deleted), so that a host keeping them in a file can
     * follow (the XS engine has no file of its own).
     */
    start(config: BuildConfig, settings: Record<string, string>, options: { files?: boolean; settingEvents?: boolean; wake?: WakeReason } = {}): null {
      const storage = local.storage ?? (options.settingEvents ? new ReportedStorage(settings, emit) : new MemoryStorage(settings));
      const files = local.files ?? (options.files ? hostFiles : undefined);
      boot = () => {
        board = createHostBoard({
          definition: hostDefinition,
          platform,
          storage,
          files,
          terminal,
          onRestart: () => {
            app?.stop();
            rebootTimer.set(100);
          },
          // deep sleep: the firmware is done; the runner (tools/start.ts) ends this engine and boots a new one
          onSleep: (ms) => {
            app?.stop();
            emit({ type: "sleep", ms });
          },
          wake: options.wake,
        });
        app = startApp(board, config);
      };
      boot();
      return null;
    },
    line(text: string): null {
      lineHandler?.(text);
      return null;
    },
    network(up: boolean): null {
      board?.network.setUp(up);
      return null;
    },
    fault(sensor: string, faulty: boolean): null {
      const s = board?.sensors.find((x) => x.name === sensor);
      if (s) s.faulty = faulty;
      return null;
    },
    stats() {
      const c = app?.client;
      const j = app?.journal;
      return {
        app: app?.stats,
        client: c ? { ...c.stats, queued: c.queued, protocolVersion: c.protocolVersion, connected: c.connected } : null,
        journal: j ? { ...j.stats, queued: j.queued } : null,
        interval: app?.config.interval,
      };
    },
    stop(): null {
      rebootTimer.clear();
      app?.stop();
      return null;
    },
  };
}
