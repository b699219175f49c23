/**
 * Loaded into XS by `npm start -- --engine xs` and the app tests: the firmware on the
 * simulated host board, over the xsnap platform. Console output goes to the host as events.
 */
import { startApp, type App } from "../src/app/app.js";
import type { BuildConfig } from "../src/app/config.js";
import hostDefinition from "../boards/host.js";
import { createHostBoard, MemoryStorage, type HostBoard } from "../src/platform/host/board.js";
import { dispatch, emit, xsnapPlatform } from "../src/platform/xsnap/index.js";
import { serve } from "../host-test/xs/serve.js";

let app: App | null = null;
let board: HostBoard | null = null;
let lineHandler: ((line: string) => void) | null = null;
const platform = xsnapPlatform();

serve(
  {
    start(config: BuildConfig, settings: Record<string, string>) {
      const storage = new MemoryStorage(settings);
      const boot = () => {
        board = createHostBoard({
          definition: hostDefinition,
          platform,
          storage,
          terminal: { write: (line) => emit({ type: "console", line }), onLine: (h) => (lineHandler = h) },
          onRestart: () => {
            app?.stop();
            boot();
          },
        });
        app = startApp(board, config);
      };
      boot();
      return null;
    },
    line(text: string) {
      lineHandler?.(text);
      return null;
    },
    network(up: boolean) {
      board?.network.setUp(up);
      return null;
    },
    fault(sensor: string, faulty: boolean) {
      const s = board?.sensors.find((x) => x.name === sensor);
      if (s) s.faulty = faulty;
      return null;
    },
    stats() {
      const c = app?.client;
      return { app: app?.stats, client: c ? { ...c.stats, queued: c.queued } : null, interval: app?.config.interval };
    },
    stop() {
      app?.stop();
      return null;
    },
  },
  dispatch,
);
