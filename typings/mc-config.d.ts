/**
 * `mc/config`: the manifest's "config" object, frozen, after `key=value` arguments on the
 * mcconfig command line have overridden it. Values given on the command line arrive as
 * strings, whatever type the manifest used, so every field is read defensively.
 */
declare module "mc/config" {
  export type ConfigValue = string | number | boolean | readonly ConfigValue[] | { readonly [key: string]: ConfigValue } | null | undefined;

  export interface McConfig {
    readonly [key: string]: ConfigValue;
    /** Device id for topics; empty for one derived from the MAC address. */
    readonly deviceId?: string;
    /** Broker URL(s): an array, or one string with URLs separated by commas. */
    readonly brokers?: string | readonly string[];
    readonly username?: string;
    /** MQTT password (not the Wi-Fi one: that is `password`, as mcconfig names it). */
    readonly mqttPassword?: string;
    readonly prefix?: string;
    /** Sampling interval, ms. */
    readonly interval?: number | string;
    readonly qos?: number | string;
    readonly outboxBytes?: number | string;
    /** MQTT version: "auto" (5.0, falling back to 3.1.1 where a broker refuses it), "5" or "3.1.1". */
    readonly protocol?: string;
    /** MQTT 5 Session Expiry Interval, seconds. */
    readonly sessionExpiry?: number | string;
    /** Wi-Fi network name; mcconfig's `ssid=` argument. */
    readonly ssid?: string;
    /** Wi-Fi password; mcconfig's `password=` argument. */
    readonly password?: string;
    /** SNTP server(s): one host, or hosts separated by commas; empty to trust the system clock. */
    readonly sntp?: string;
    /** Read provisioning lines from the serial console (off in debug builds, where xsbug owns the port). */
    readonly serialInput?: boolean | number | string;
    /** `mqtts://`: verify the broker's certificate and name (default on; 0 turns it off, for tests only). */
    readonly tlsVerify?: boolean | number | string;
    /** Desktop simulator only: a serial device (e.g. a pty from socat) to read console lines from. */
    readonly serialDevice?: string;
  }

  const config: McConfig;
  export default config;
}
