/// <reference path="../../../typings/index.d.ts" />
/**
 * The desktop simulator's stand-in for deep-sleep.ts (the lin/mac/win manifests map
 * `xsmqtt/platform/moddable/deep-sleep` to this file). The simulator cannot power down, so
 * `sleep(ms)`:
 *
 * 1. writes the wake marker, the file `sleeping` among the board's files (in the folder
 *    `xsmqtt` of the simulator's `embedded:storage/files`), and flushes it;
 * 2. stops every timer the board and the app were given, and from then on ignores new
 *    settings of them and opens no connection (it traces one line the first time that
 *    happens: the firmware should have stopped itself);
 * 3. traces the line the runner acts on, after the marker is on disk:
 *
 *        # deep sleep <ms> ms
 *
 *    with `<ms>` the duration in whole milliseconds (rounded up). The runner ends the
 *    simulator and starts it again `<ms>` later; like a real deep sleep, that leaves only
 *    what is on storage.
 *
 * At boot, a marker present means this boot is the wake that followed a sleep ("timer");
 * it is removed at once, so any other start is a "power-on". A board without files (the
 * Windows simulator) cannot keep the marker: every boot is a "power-on" there.
 */
import type { Files, WakeReason } from "../../app/board.js";
import type { Platform, Timer, Transport } from "../../mqtt/platform.js";
import type { CreateDeepSleep } from "./deep-sleep.js";
import { sleepMicroseconds } from "./sleep-time.js";

/** The line `sleep` traces, for a runner to match: group 1 is the duration in ms. */
export const SLEEP_LINE = /^# deep sleep (\d+) ms$/;

/** The wake marker's file name, among the board's files. */
export const WAKE_MARKER = "sleeping";

/** Consumes the marker a sleep left: "timer" when there was one. */
function bootReason(files: Files | null): WakeReason {
  if (!files) return "power-on";
  try {
    const marker = files.open(WAKE_MARKER, false);
    if (!marker) return "power-on";
    marker.close();
    files.remove(WAKE_MARKER);
    return "timer";
  } catch (e) {
    trace(`# deep sleep: cannot read the wake marker: ${(e as Error).message}\n`);
    return "power-on";
  }
}

/** A transport that never opens: what a sleeping board hands out. */
const NO_TRANSPORT: Transport = {
  write: () => 0,
  writePacket: () => false,
  close() {},
};

export const createDeepSleep: CreateDeepSleep = (files) => {
  const wake = bootReason(files);
  const timers: Timer[] = [];
  let asleep = false;
  let complained = false;
  const ignored = (what: string) => {
    if (complained) return;
    complained = true;
    trace(`# deep sleep: ${what} after the sleep ignored (the firmware should have stopped)\n`);
  };
  return {
    wake,
    guard(platform: Platform): Platform {
      const random = platform.random;
      return {
        connect(broker, sink) {
          if (!asleep) return platform.connect(broker, sink);
          ignored("a connection");
          return NO_TRANSPORT;
        },
        timer(callback) {
          const timer = platform.timer(callback);
          timers.push(timer);
          return {
            set(ms) {
              if (asleep) ignored("a timer set");
              else timer.set(ms);
            },
            clear: () => timer.clear(),
          };
        },
        now: () => platform.now(),
        ...(random ? { random: () => random.call(platform) } : {}),
      };
    },
    sleep(ms) {
      sleepMicroseconds(ms); // the device's rule: a duration it could not sleep throws here too
      if (asleep) return;
      if (files) {
        try {
          const marker = files.open(WAKE_MARKER, true);
          if (marker) {
            const text = `${Math.ceil(ms)}\n`;
            const bytes = new Uint8Array(text.length);
            for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
            marker.truncate(0);
            marker.write(bytes, 0);
            marker.sync();
            marker.close();
          }
        } catch (e) {
          trace(`# deep sleep: cannot write the wake marker (the next boot is a power-on): ${(e as Error).message}\n`);
        }
      }
      asleep = true;
      for (const t of timers) t.clear();
      trace(`# deep sleep ${Math.ceil(ms)} ms\n`);
    },
  };
};
