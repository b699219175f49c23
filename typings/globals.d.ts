/**
 * Globals of a Moddable (XS) host that the device code uses.
 */

/**
 * Writes its arguments, converted to strings, to the debug console: the serial port in a
 * release build, xsbug in a debug build, stdout in the desktop simulator. Adds no newline.
 */
declare function trace(...items: (string | number | boolean)[]): void;

/**
 * Compiled by xsc, only with a string literal, into a reference to the host (C) function
 * of that name, which the build must link (a `.c` file mapped in the manifest).
 */
declare function native(name: string): (...args: unknown[]) => unknown;

/** The `System` global installed by the ECMA-419 IO manifest's preloaded `system` module. */
interface ModdableSystem {
  /** Resets the microcontroller (ESP32: `esp_restart`). Absent in the desktop simulator. */
  restart?(): void;
}

/** Present when the build includes `$(MODDABLE)/modules/io/manifest.json`. */
declare var System: ModdableSystem | undefined;
