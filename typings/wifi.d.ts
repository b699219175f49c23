/**
 * `wifi`: the Moddable Wi-Fi station (ESP32), simulated on the desktop (connects, then
 * reports an IP address about a second later).
 */
declare module "wifi" {
  export interface WiFiStationOptions {
    ssid: string;
    password?: string;
    bssid?: string;
  }

  /**
   * "connect" (associated), "gotIP", "lostIP", "disconnect"; the ESP32 also reports "start"
   * and the access-point events. With "disconnect", `reason` is -1 when the password was rejected.
   */
  export type WiFiMessage = "connect" | "gotIP" | "lostIP" | "disconnect" | "start" | "station_connect" | "station_disconnect";

  export default class WiFi {
    /** Starts listening for Wi-Fi events; also connects when `options` is given. The simulator allows one instance. */
    constructor(options: WiFiStationOptions | undefined, callback: (message: WiFiMessage, reason?: number) => void);
    /** Stops listening (does not disconnect). */
    close(): void;
    /** Connects the station to a network; throws when the driver refuses. Without options, disconnects. */
    static connect(options?: WiFiStationOptions): void;
    static disconnect(): void;
    static readonly gotIP: "gotIP";
    static readonly lostIP: "lostIP";
    static readonly connected: "connect";
    static readonly disconnected: "disconnect";
  }
}
