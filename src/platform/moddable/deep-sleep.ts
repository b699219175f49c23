/// <reference path="../../../typings/index.d.ts" />
/**
 * Deep sleep and the wake cause on the ESP32, through two host functions in
 * native/xsmqtt_sleep.c, which manifest_esp32.json links into the firmware:
 *
 * - `xs_xsmqtt_deep_sleep(us)`: stops Wi-Fi (`esp_wifi_stop`), arms the RTC timer
 *   (`esp_sleep_enable_timer_wakeup`) and powers down (`esp_deep_sleep_start`). The chip
 *   boots again after `us` microseconds, from the start: only flash (the files, NVS
 *   settings) survives. It returns only by throwing, when the timer refuses the duration.
 * - `xs_xsmqtt_wake_cause()`: "timer" when this boot is a wake from deep sleep by the RTC
 *   timer (`esp_reset_reason()` is `ESP_RST_DEEPSLEEP` and the wakeup causes include
 *   `ESP_SLEEP_WAKEUP_TIMER`), "power-on" for a power-on or the reset pin, else "other"
 *   (a software restart, a panic, a watchdog, a brownout).
 *
 * The desktop simulator's manifest maps this module's name
 * (`xsmqtt/platform/moddable/deep-sleep`) to deep-sleep-sim.js instead, which exports the
 * same {@link createDeepSleep}.
 */
import type { Files, WakeReason } from "../../app/board.js";
import type { Platform } from "../../mqtt/platform.js";
import { sleepMicroseconds } from "./sleep-time.js";

/** What the board gets from the deep-sleep module. */
export interface DeepSleep {
  /** Why this boot happened, read once at boot. */
  readonly wake: WakeReason;
  /**
   * The platform everything on the board runs on, made from `platform`: the same one on
   * the ESP32 (nothing runs after the sleep starts); in the simulator, one whose timers all
   * stop, and which opens no connection, once the board sleeps.
   */
  guard(platform: Platform): Platform;
  /** Sleeps `ms` (see `Board.sleep`); throws RangeError for a duration it cannot sleep. */
  sleep(ms: number): void;
}

/** `files`: the board's flash files, or null when it has none (the simulator keeps its wake marker there). */
export type CreateDeepSleep = (files: Files | null) => DeepSleep;

/** Arms the RTC timer for `us` whole microseconds and enters deep sleep; returns only by throwing. */
const deepSleep = native("xs_xsmqtt_deep_sleep") as (us: number) => void;
/** "timer", "power-on" or "other": why this boot happened. */
const wakeCause = native("xs_xsmqtt_wake_cause") as () => string;

/** The answer of the host function, as a WakeReason. */
function wakeReason(cause: unknown): WakeReason {
  return cause === "timer" || cause === "power-on" ? cause : "other";
}

export const createDeepSleep: CreateDeepSleep = () => {
  const wake = wakeReason(wakeCause());
  return {
    wake,
    guard: (platform) => platform,
    sleep(ms) {
      deepSleep(sleepMicroseconds(ms));
    },
  };
};
