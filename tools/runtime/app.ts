/**
 * The firmware on the simulated host board as a module of ops (see engine.ts): the same
 * compiled file runs in this process (Node platform) and inside XS (app-xs-entry.ts), for
 * `npm start` and the app suite. Console lines go to the host as `console` events unless
 * a local run gives its own terminal (a serial port).
 */
import { startApp, type App } from "../../src/app/app.js";
import type { SerialConsole, Storage } from "../../src/app/board.js";
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
}

export function makeAppOps(platform: Platform, emit: (event: object) => void, local: LocalDevice = {}) {
  let app: App | null = null;
  let board: HostBoard | null = null;
  let lineHandler: ((line: string) => void) | null = null;
  const terminal: SerialConsole = local.terminal ?? { write: (line) => emit({ type: "console", line }), onLine: (h) => (lineHandler = h) };
  // "restart" from a command: the old app stops now, the new one boots once the command is done
  const rebootTimer = platform.timer(() => boot());
  let boot = () => {};
  return {
    start(config: BuildConfig, settings: Record<string, string>): null {
      const storage = local.storage ?? new MemoryStorage(settings);
      boot = () => {
        board = createHostBoard({
          definition: hostDefinition,
          platform,
          storage,
          terminal,
          onRestart: () => {
            app?.stop();
            rebootTimer.set(100);
          },
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
      return { app: app?.stats, client: c ? { ...c.stats, queued: c.queued } : null, interval: app?.config.interval };
    },
    stop(): null {
      rebootTimer.clear();
      app?.stop();
      return null;
    },
  };
}
