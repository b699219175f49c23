/**
 * The client's subscriptions: the filter table with each filter's handler and state, the
 * SUBSCRIBE/UNSUBSCRIBE requests awaiting their acks, and what must be sent at the next
 * connection. It encodes nothing and sends nothing: the client asks it what to send and
 * tells it what came back.
 */
import type { Subscription } from "./encode.js";
import type { Subscription5 } from "./encode5.js";
import { ErrorCode, MqttError, ReasonCodeError } from "./errors.js";
import type { MessageHandler } from "./options.js";
import { PacketType } from "./packet.js";
import { Reason, reasonName } from "./reasons.js";
import { SubscriptionTable, type SubscriptionEntry } from "./topic.js";

/** Where a filter stands with the broker. */
export const SubState = Object.freeze({
  /** Not yet sent on this connection (new, or the session was not kept). */
  ToSend: 0,
  /** SUBSCRIBE sent, SUBACK awaited. */
  Sent: 1,
  /** Granted by the broker. */
  Acked: 2,
} as const);
export type SubState = (typeof SubState)[keyof typeof SubState];

export type SubscribeDone = (error: MqttError | null, granted: number) => void;
export type UnsubscribeDone = (error: MqttError | null) => void;

export interface SubRow {
  state: SubState;
  handler: MessageHandler | null;
  done: SubscribeDone | null;
  /** MQTT 5 subscription options (§3.8.3.1): No Local, Retain As Published, Retain Handling. */
  nl: boolean;
  rap: boolean;
  rh: number;
  /** MQTT 5 Subscription Identifier, kept for the filter while it is subscribed (the lowest free one). */
  sid: number;
  /** A SUBSCRIBE carrying `sid` went out from this client: the broker knows the filter by it. */
  sidSent: boolean;
}

/** MQTT 5 subscription options, as SUBSCRIBE carries them. */
export interface SubOptions {
  nl?: boolean;
  rap?: boolean;
  rh?: number;
}

/** A SUBSCRIBE or UNSUBSCRIBE awaiting its ack. */
interface Request {
  type: number;
  filters: string[];
  done: UnsubscribeDone | null;
}

/** The filter table itself (the client's dispatch reads it directly), and what goes with it. */
export class Subscriptions extends SubscriptionTable<SubRow> {
  private readonly requests = new Map<number, Request>();
  /** UNSUBSCRIBEs to send at the next connection, with their callbacks (made when the first waits). */
  private later: Request[] | null = null;
  /** Handlers are running: removals wait in {@link deferred} (made when the first waits) so the dispatch loop's row indexes stay valid. */
  dispatching = false;
  deferred: string[] | null = null;
  /**
   * MQTT 5 Subscription Identifiers in use on this connection (the client sets it from the
   * CONNACK): each filter goes in a SUBSCRIBE of its own, carrying its identifier.
   */
  useSids = false;
  /** The rows by Subscription Identifier (index 0 unused). */
  readonly bySid: (SubscriptionEntry<SubRow> | undefined)[] = [undefined];
  /** Rows the broker does not know by an identifier sent from here. */
  private unsent = 0;

  /**
   * Adds or replaces `filter` (validated by the caller) as to be sent, or, when `known`, as
   * one the broker's session already has (sent only after a connection without a session).
   */
  add(filter: string, qos: number, handler: MessageHandler | null, done: SubscribeDone | null, known = false, o: SubOptions | null = null): void {
    const d = this.deferred?.indexOf(filter) ?? -1;
    if (d >= 0) this.deferred!.splice(d, 1);
    const was = this.get(filter)?.value;
    let sid = was?.sid ?? 0;
    if (sid === 0) {
      const ids = this.bySid;
      sid = 1;
      while (sid < ids.length && ids[sid] !== undefined) sid++;
      this.unsent++;
    }
    const row = { state: known ? SubState.Acked : SubState.ToSend, handler, done, nl: o?.nl === true, rap: o?.rap === true, rh: o?.rh ?? 0, sid, sidSent: was?.sidSent ?? false };
    this.bySid[sid] = this.set(filter, qos, row);
    if (this.later)
      for (const r of this.later) {
        const k = r.filters.indexOf(filter);
        if (k >= 0) r.filters.splice(k, 1);
      }
  }

  /**
   * Removes `filter` now, or after the dispatch under way. When not connected, the
   * UNSUBSCRIBE waits for the next connection; `done` runs when it is acknowledged.
   */
  remove(filter: string, connected: boolean, done: UnsubscribeDone | null): void {
    if (this.dispatching) (this.deferred ??= []).push(filter);
    else this.delete(filter);
    if (!connected) (this.later ??= []).push({ type: PacketType.UNSUBSCRIBE, filters: [filter], done });
  }

  /** After a dispatch: removals asked for during it take effect. */
  removeDeferred(): void {
    const later = this.deferred!;
    this.deferred = null;
    for (const f of later) this.delete(f);
  }

  /** Removes the row for `filter` and frees its Subscription Identifier. */
  override delete(filter: string): boolean {
    const e = this.get(filter);
    if (e === undefined) return false;
    const v = e.value;
    this.bySid[v.sid] = undefined;
    if (!v.sidSent) this.unsent--;
    return super.delete(filter);
  }

  /** Whether every row is known to the broker by an identifier sent from here: then a message's identifiers name all the rows it is for. */
  get allBySid(): boolean {
    return this.useSids && this.unsent === 0;
  }

  /**
   * A connection was accepted. Without a session every filter is sent again; with one,
   * those the broker had not granted are. Requests of the lost connection are settled:
   * UNSUBSCRIBEs go again (the broker may not have seen them), SUBSCRIBEs are covered by
   * their rows. Returns the UNSUBSCRIBE requests to send now.
   */
  connected(sessionPresent: boolean): { filters: string[]; done: UnsubscribeDone | null }[] {
    const t = this;
    for (let i = 0; i < t.size; i++) {
      const row = t.at(i).value;
      if (!sessionPresent || row.state !== SubState.Acked) row.state = SubState.ToSend;
    }
    const again = this.later ?? [];
    for (const r of this.requests.values()) if (r.type === PacketType.UNSUBSCRIBE) again.push(r);
    this.requests.clear();
    this.later = null;
    return again.filter((r) => r.filters.length > 0);
  }

  /** Whether packet id `id` is used by a request awaiting its ack. */
  holds(id: number): boolean {
    return this.requests.has(id);
  }

  /** The filters not yet sent on this connection, in batches of SUBSCRIBE entries that `fits` accepts. */
  toSend(fits: (batch: Subscription5[]) => boolean, wildcards = true, shared = true): Subscription5[][] {
    const batches: Subscription5[][] = [];
    let batch: Subscription5[] = [];
    const t = this;
    for (let i = 0; i < t.size; i++) {
      const row = t.at(i);
      const v = row.value;
      if (v.state !== SubState.ToSend) continue;
      // (one a callback of refuseUnsupported added waits: it is refused at the next send)
      if ((!wildcards || !shared) && Subscriptions.unsupported(row.filter, wildcards, shared) !== 0) continue;
      const s = { topic: row.filter, qos: row.qos, nl: v.nl, rap: v.rap, rh: v.rh };
      if (batch.length > 0 && !fits([...batch, s])) {
        batches.push(batch);
        batch = [];
      }
      batch.push(s);
    }
    if (batch.length > 0) batches.push(batch);
    return batches;
  }

  /**
   * MQTT 5: the reason code under which `filter` may not be sent to a broker that announced
   * no wildcard subscriptions (`wildcards` false: 0xA2) or no shared ones (`shared` false:
   * 0x9E), §3.2.2.3.11, §3.2.2.3.13; 0 when it may be sent.
   */
  static unsupported(filter: string, wildcards: boolean, shared: boolean): number {
    if (!shared && filter.startsWith("$share/")) return Reason.SharedSubscriptionsNotSupported;
    if (!wildcards && (filter.includes("+") || filter.includes("#"))) return Reason.WildcardSubscriptionsNotSupported;
    return 0;
  }

  /**
   * MQTT 5: the filters not yet sent that this broker said it does not support
   * ({@link unsupported}) are not sent, since it would end the connection for them: each is
   * removed and reported as a SUBACK refusal with that code is. All are taken out before
   * any callback runs, so a callback may subscribe or unsubscribe. Returns how many.
   */
  refuseUnsupported(wildcards: boolean, shared: boolean, report: { onError?(e: MqttError): void }): number {
    const refused: { filter: string; code: number; done: SubscribeDone | null }[] = [];
    for (let i = 0; i < this.size; i++) {
      const row = this.at(i);
      if (row.value.state !== SubState.ToSend) continue;
      const code = Subscriptions.unsupported(row.filter, wildcards, shared);
      if (code !== 0) refused.push({ filter: row.filter, code, done: row.value.done });
    }
    for (const r of refused) {
      const row = this.get(r.filter)!.value;
      row.done = null;
      row.state = SubState.Sent; // never sent: out of toSend until removed
      if (this.dispatching) (this.deferred ??= []).push(r.filter);
      else this.delete(r.filter);
    }
    for (const { filter, code, done } of refused) {
      const why = code === Reason.SharedSubscriptionsNotSupported ? "the broker does not support shared subscriptions" : "the broker does not support wildcard subscriptions";
      const err = new ReasonCodeError(ErrorCode.SubscriptionRefused, `${why}: the subscription to ${filter} was not sent`, code, reasonName(code, PacketType.SUBACK), null);
      report.onError?.(err);
      done?.(err, code);
    }
    return refused.length;
  }

  /** A SUBSCRIBE with id `id` went out for `batch`. */
  subscribed(id: number, batch: Subscription[]): void {
    const filters = batch.map((s) => s.topic);
    this.requests.set(id, { type: PacketType.SUBSCRIBE, filters, done: null });
    for (const f of filters) {
      const v = this.get(f)!.value;
      v.state = SubState.Sent;
      if (this.useSids && !v.sidSent) {
        v.sidSent = true;
        this.unsent--;
      }
    }
  }

  /** An UNSUBSCRIBE with id `id` went out. */
  unsubscribed(id: number, filters: string[], done: UnsubscribeDone | null): void {
    this.requests.set(id, { type: PacketType.UNSUBSCRIBE, filters, done });
  }

  /**
   * SUBACK or UNSUBACK (`type`) for `id`, its return (reason) codes in `codes[start, end)`.
   * A refused filter (0x80 or above; in MQTT 5 each code names why) is removed and reported
   * to `report.onError` and to its own callback; an UNSUBACK failure (MQTT 5) goes to the
   * UNSUBSCRIBE's callback. Returns the filters refused, or -1 for an id that no request holds.
   */
  acked(type: number, id: number, codes: Uint8Array, start: number, end: number, report: { onError?(e: MqttError): void }): number {
    const req = this.requests.get(id);
    if (!req || req.type !== (type === PacketType.SUBACK ? PacketType.SUBSCRIBE : PacketType.UNSUBSCRIBE)) return -1;
    this.requests.delete(id);
    const n = end - start;
    if (type === PacketType.UNSUBACK) {
      // 3.1.1's UNSUBACK has no codes; 5.0's has one per filter (0x11: there was none, not a failure)
      let err: MqttError | null = null;
      for (let i = 0; i < n && i < req.filters.length; i++) {
        const code = codes[start + i];
        if (code >= 0x80 && err === null) {
          err = new ReasonCodeError(ErrorCode.SubscriptionRefused, `broker refused to unsubscribe ${req.filters[i]}`, code, reasonName(code, type), null);
          report.onError?.(err);
        }
      }
      req.done?.(err);
      return 0;
    }
    let refused = 0;
    for (let i = 0; i < req.filters.length; i++) {
      const filter = req.filters[i];
      const code = i < n ? codes[start + i] : 0x80;
      const entry = this.get(filter);
      if (!entry) continue;
      const row = entry.value;
      const done = row.done;
      row.done = null;
      if (code >= 0x80) {
        refused++;
        this.delete(filter);
        const err =
          code === 0x80
            ? new MqttError(ErrorCode.SubscriptionRefused, `broker refused the subscription to ${filter}`)
            : new ReasonCodeError(ErrorCode.SubscriptionRefused, `broker refused the subscription to ${filter}`, code, reasonName(code, type), null);
        report.onError?.(err);
        done?.(err, code);
      } else {
        row.state = SubState.Acked;
        done?.(null, code);
      }
    }
    return refused;
  }
}
