/**
 * `net`: network interface facts and host name resolution.
 */
declare module "net" {
  export type NetProperty = "IP" | "MAC" | "SSID" | "BSSID" | "RSSI" | "DNS";

  export default class Net {
    private constructor();
    /** A property of the station interface; undefined when not known (e.g. no IP yet). */
    static get(property: NetProperty, mode?: "station" | "ap"): string | number | undefined;
    /** Resolves `host`; `address` is a dotted IPv4 string, or undefined when resolution failed. */
    static resolve(host: string, callback: (host: string, address?: string) => void): void;
  }
}
