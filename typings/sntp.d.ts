/**
 * `sntp`: one SNTP request, retried every 5 s up to five times, over the classic UDP socket.
 */
declare module "sntp" {
  export default class SNTP {
    /**
     * Resolves `host` and asks it for the time. The callback gets `SNTP.time` with Unix
     * seconds, `SNTP.retry` on each retry, or `SNTP.error` with a message; after an error it
     * may return another host name to try, otherwise the request ends.
     */
    constructor(options: { host: string }, callback: (message: number, value?: number | string) => string | void);
    close(): void;
    static readonly time: 1;
    static readonly retry: 2;
    static readonly error: -1;
  }
}
