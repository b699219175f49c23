/**
 * Our own declarations for the Moddable SDK modules and globals the device code uses
 * (src/platform/moddable, the board files and the manifest-mapped names). Written from
 * the SDK's behaviour, not copied from its typings; each file declares only what we call.
 *
 * tsconfig.device.json includes this folder; the device sources also reference this file
 * so that the Node build (tsconfig.json), which compiles them to dist/ for mcconfig, sees
 * the same declarations.
 */
/// <reference path="./globals.d.ts" />
/// <reference path="./mc-config.d.ts" />
/// <reference path="./timer.d.ts" />
/// <reference path="./time.d.ts" />
/// <reference path="./net.d.ts" />
/// <reference path="./wifi.d.ts" />
/// <reference path="./sntp.d.ts" />
/// <reference path="./preference.d.ts" />
/// <reference path="./embedded-io.d.ts" />
/// <reference path="./tls.d.ts" />
/// <reference path="./embedded-storage.d.ts" />
/// <reference path="./embedded-sensor.d.ts" />
/// <reference path="./xsmqtt-board.d.ts" />
