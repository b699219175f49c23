/**
 * `preference`: small persistent key/value pairs (NVS on the ESP32, a JSON file in the
 * desktop simulator). On the ESP32 domain and key are at most 15 characters and a value at
 * most 4000 bytes; numbers must be integers.
 */
declare module "preference" {
  export type PreferenceValue = string | number | boolean | ArrayBuffer;

  export default class Preference {
    private constructor();
    static set(domain: string, key: string, value: PreferenceValue): void;
    static get(domain: string, key: string): PreferenceValue | undefined;
    static delete(domain: string, key: string): void;
    static keys(domain: string): string[];
  }
}
