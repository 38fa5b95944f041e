// A session's own picture of its selected mailbox: the sequence numbers the
// client knows, the flags it was last told, which messages are \Recent for
// it, and the changes (from anyone, itself included) not yet reported.
//
// The store pushes every change to every open handle at once; the view queues
// them and reports them only when RFC 3501 §7.4.1 allows: EXPUNGE never
// during FETCH, STORE or SEARCH. Reports are computed against what the client
// was told, so a change is reported once however many times it is heard
// (the session's own STORE answers, then its watch event arrives: no repeat).

import { isKeyword, type MailboxChange, type MailboxHandle, type MessageMeta } from "./store-port";
import type { StoreMode } from "./types";

export const SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"] as const;

/** Writes one untagged response; the session adds `* ` and CRLF. */
export type UntaggedWriter = (content: string) => void;

/**
 * Positions in a list ascending by `keyOf`; the list may change in place. A
 * command over a range asks in ascending order, so the slot after the last
 * hit is tried before bisecting: UID FETCH 1:* over 100,000 messages costs
 * one comparison per message instead of seventeen. That slot is only a
 * guess, checked before it is used.
 */
export class SortedIndex<T> {
  private last = -1;

  constructor(
    private readonly list: readonly T[],
    private readonly keyOf: (item: T) => number,
  ) {}

  /** Index of `key`, or -1. */
  indexOf(key: number): number {
    const { list, keyOf } = this;
    const next = this.last + 1;
    if (next > 0 && next < list.length && keyOf(list[next]!) === key) return (this.last = next);
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = keyOf(list[mid]!);
      if (k === key) return (this.last = mid);
      if (k < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

const uidOf = (m: MessageMeta): number => m.uid;
const itself = (n: number): number => n;

/** Finds messages by UID in a list of records ascending by UID. */
export function metaIndex(list: readonly MessageMeta[]): SortedIndex<MessageMeta> {
  return new SortedIndex(list, uidOf);
}

/** Recorded for a message of the open snapshot that has left the view. */
const FORGOTTEN: readonly string[] = Object.freeze([]);

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((f) => set.has(f));
}

export class SelectedView {
  private reported = 0;
  /**
   * Flags as the client last saw them (or as they arrived, for messages it has
   * not fetched). A message present at open with no entry here still has the
   * flags it had then, read from `opened`: SELECT of a large mailbox then
   * builds no per-message map.
   */
  private readonly flags = new Map<number, readonly string[]>();
  private readonly byUid: SortedIndex<number>;
  private readonly openedByUid: SortedIndex<MessageMeta>;
  /** Messages that are \Recent for this session. */
  readonly recent = new Set<number>();
  private reportedRecent = 0;
  /** Keywords announced in FLAGS / PERMANENTFLAGS; imaptest rejects FETCH FLAGS with any other. */
  private readonly keywords = new Set<string>();
  /** Removed from the store, still numbered for the client until EXPUNGE may be sent. */
  private readonly expunged = new Set<number>();
  private pending: MailboxChange[] = [];
  private unwatch: (() => void) | undefined;
  /** The mailbox was deleted or its UIDVALIDITY changed: the session must end. */
  gone = false;
  /** Called (synchronously) whenever a change is queued; IDLE uses it. */
  onChange: (() => void) | undefined;

  private constructor(
    readonly handle: MailboxHandle,
    /** seq - 1 → UID; ascending. Entries past `reported` are new and not yet announced by EXISTS. */
    private readonly uids: number[],
    /** The store's records at open, ascending by UID (records are immutable). */
    private readonly opened: readonly MessageMeta[],
  ) {
    this.byUid = new SortedIndex(uids, itself);
    this.openedByUid = metaIndex(opened);
  }

  /** Opens the view over a freshly opened handle; messages present now are numbered 1..n. */
  static open(handle: MailboxHandle): SelectedView {
    // A copy of the list (the store's own changes in place), not of the records.
    const list = handle.messages().slice();
    const uids = new Array<number>(list.length);
    const view = new SelectedView(handle, uids, list);
    for (let i = 0; i < list.length; i++) uids[i] = list[i]!.uid;
    for (const k of handle.keywords()) view.keywords.add(k);
    view.reported = view.uids.length;
    for (const u of handle.recentAmong(view.uids)) view.recent.add(u);
    view.reportedRecent = view.recent.size;
    // Reading the list and subscribing happen in one turn, so no change falls between them.
    view.unwatch = handle.watch((change) => {
      view.pending.push(change);
      view.onChange?.();
    });
    return view;
  }

  get readOnly(): boolean {
    return this.handle.readOnly;
  }

  /** Number of messages the client knows of. */
  get exists(): number {
    return this.reported;
  }

  get recentCount(): number {
    return this.reportedRecent;
  }

  get hasPending(): boolean {
    return this.pending.length > 0 || (this.expunged.size > 0 && !this.gone);
  }

  /** UID of a sequence number the client knows; undefined if out of range. */
  uidAt(seq: number): number | undefined {
    return seq >= 1 && seq <= this.reported ? this.uids[seq - 1] : undefined;
  }

  /** Sequence number of a UID the client knows, 0 if none. */
  seqOf(uid: number): number {
    const i = this.indexOf(uid);
    return i >= 0 && i < this.reported ? i + 1 : 0;
  }

  /** UIDs the client knows, in sequence order. */
  knownUids(): number[] {
    return this.uids.slice(0, this.reported);
  }

  /** Removed by someone, EXPUNGE not yet sent: fetches of it can only fail. */
  isExpunged(uid: number): boolean {
    return this.expunged.has(uid);
  }

  /** UIDs removed by someone whose EXPUNGE is not sent yet. */
  pendingExpunges(): number[] {
    return [...this.expunged];
  }

  /** Flags the client was last told (or would see now), without \Recent. */
  knownFlags(uid: number): readonly string[] {
    return this.flagsOf(uid) ?? [];
  }

  /** Sequence number of the first message the client knows as not \Seen, 0 if none. */
  firstUnseen(): number {
    let j = 0;
    for (let i = 0; i < this.reported; i++) {
      const uid = this.uids[i]!;
      let f = this.flags.get(uid);
      if (f === undefined) {
        // uids and opened both ascend: one forward walk instead of a search per message.
        while (j < this.opened.length && this.opened[j]!.uid < uid) j++;
        f = this.opened[j]?.uid === uid ? this.opened[j]!.flags : [];
      }
      if (!f.includes("\\Seen")) return i + 1;
    }
    return 0;
  }

  /** Permanent flags list for SELECT and later FLAGS updates. */
  flagList(): string[] {
    return [...SYSTEM_FLAGS, ...this.keywords];
  }

  /**
   * Records that the client is being told `flags` for `uid` and returns the
   * FLAGS list to send (with \Recent). Announces new keywords first.
   */
  reportFlags(uid: number, flags: readonly string[], write: UntaggedWriter): string {
    // The same array as recorded (FETCH FLAGS of an unchanged message): nothing new to note.
    if (this.flagsOf(uid) !== flags) {
      this.announceKeywords(flags, write);
      this.flags.set(uid, [...flags]);
    }
    return this.flagsText(uid, flags);
  }

  /**
   * STORE .SILENT: records what the client can work out for itself, its last
   * known flags with the change applied. Recording the flags as they are now
   * would hide another session's change it has not been told of yet; the
   * next flush reports any difference.
   */
  noteSilentStore(uid: number, mode: StoreMode, flags: readonly string[], write: UntaggedWriter): void {
    const known = this.knownFlags(uid);
    let inferred: string[];
    if (mode === "set") inferred = [...new Set(flags)];
    else if (mode === "remove") inferred = known.filter((f) => !flags.includes(f));
    else inferred = [...new Set([...known, ...flags])];
    this.announceKeywords(inferred, write);
    this.flags.set(uid, inferred);
  }

  /** `(\Seen $Foo \Recent)` */
  flagsText(uid: number, flags: readonly string[]): string {
    // Most messages carry no flag or one: skip join's work for those.
    const list = flags.length === 0 ? "" : flags.length === 1 ? flags[0]! : flags.join(" ");
    if (!this.recent.has(uid)) return `(${list})`;
    return list ? `(${list} \\Recent)` : "(\\Recent)";
  }

  /** Queues a change the session learnt of directly (its own EXPUNGE/MOVE results). */
  queue(change: MailboxChange): void {
    this.pending.push(change);
  }

  /**
   * Sends what the client has not been told: EXPUNGE (only if allowed), then
   * FLAGS for new keywords, EXISTS/RECENT if the count changed, and FETCH FLAGS
   * for flag changes. Each EXPUNGE number is relative to the previous one.
   */
  flush(write: UntaggedWriter, allowExpunge: boolean): void {
    const events = this.pending;
    // Nothing heard and no EXPUNGE to send: nothing can have changed (spares a pass over \Recent per command).
    if (events.length === 0 && !(allowExpunge && this.expunged.size > 0)) return;
    this.pending = [];
    const fresh: number[] = [];
    const flagChanges = new Map<number, string[]>();
    for (const ev of events) {
      switch (ev.kind) {
        case "added":
          if (this.addNew(ev.message)) fresh.push(ev.message.uid);
          break;
        case "removed":
          this.remove(ev.uid, flagChanges);
          break;
        case "flags": {
          const i = this.indexOf(ev.uid);
          if (i < 0) break;
          if (i >= this.reported) this.flags.set(ev.uid, [...ev.flags]);
          else flagChanges.set(ev.uid, [...ev.flags]);
          break;
        }
        case "keywords":
          // Even when no message this session numbers carries them: another session's FLAGS has them.
          this.announceKeywords(ev.keywords, write);
          break;
        case "gone":
          this.gone = true;
          break;
      }
    }
    if (this.gone) return;
    const stillHere = fresh.filter((u) => this.indexOf(u) >= 0).sort((a, b) => a - b);
    for (const u of this.handle.recentAmong(stillHere)) this.recent.add(u);

    if (allowExpunge && this.expunged.size > 0) this.sendExpunges(write);

    for (let i = this.reported; i < this.uids.length; i++) {
      this.announceKeywords(this.flags.get(this.uids[i]!) ?? [], write);
    }
    const announcedCount = this.uids.length !== this.reported;
    if (announcedCount) {
      this.reported = this.uids.length;
      write(`${this.reported} EXISTS`);
    }
    let recent = 0;
    for (const u of this.recent) if (this.indexOf(u) >= 0) recent++;
    // Also after EXPUNGEs of \Recent messages: clients (imaptest's checkpoints
    // among them) keep the last count they were given, as Dovecot's do.
    if (announcedCount || recent !== this.reportedRecent) {
      write(`${recent} RECENT`);
      this.reportedRecent = recent;
    }

    for (const [uid, flags] of flagChanges) {
      if (this.expunged.has(uid)) continue;
      const seq = this.seqOf(uid);
      if (seq === 0) continue;
      const before = this.flagsOf(uid);
      if (before && sameFlags(before, flags)) continue;
      const text = this.reportFlags(uid, flags, write);
      write(`${seq} FETCH (FLAGS ${text} UID ${uid})`);
    }
  }

  /**
   * The session's own EXPUNGE (or MOVE): reports each removed UID the client
   * still knows as `* n EXPUNGE`, together with anything else pending.
   */
  expungeOwn(uids: readonly number[], write: UntaggedWriter): void {
    for (const uid of uids) this.pending.push({ kind: "removed", uid });
    this.flush(write, true);
  }

  /** CLOSE: forgets removals without telling the client (RFC 3501 §6.4.2). */
  close(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.onChange = undefined;
    this.handle.close();
  }

  /** Picks up messages added to the store that no change has told the view of yet (own APPEND). */
  catchUp(): void {
    const last = this.uids.length > 0 ? this.uids[this.uids.length - 1]! : 0;
    const list = this.handle.messages();
    for (let i = list.length - 1; i >= 0 && list[i]!.uid > last; i--) {
      this.pending.push({ kind: "added", message: list[i]! });
    }
  }

  private addNew(m: MessageMeta): boolean {
    const last = this.uids.length > 0 ? this.uids[this.uids.length - 1]! : 0;
    // UIDs only grow within a UIDVALIDITY; a lower one is a duplicate notice.
    if (m.uid <= last) return false;
    this.uids.push(m.uid);
    this.flags.set(m.uid, [...m.flags]);
    return true;
  }

  private remove(uid: number, flagChanges: Map<number, string[]>): void {
    const i = this.indexOf(uid);
    if (i < 0) {
      // Not one this view numbers: nothing to tell the client, so nothing to keep for it.
      this.handle.forgetRemoved([uid]);
      return;
    }
    flagChanges.delete(uid);
    if (i >= this.reported) {
      // The client never heard of it: it can vanish silently.
      this.uids.splice(i, 1);
      this.forget(uid);
      this.recent.delete(uid);
      this.handle.forgetRemoved([uid]);
      return;
    }
    this.expunged.add(uid);
  }

  private sendExpunges(write: UntaggedWriter): void {
    // Highest first: each number stays valid for the client after the previous removal.
    const doomed = [...this.expunged].map((u) => this.indexOf(u)).filter((i) => i >= 0).sort((a, b) => b - a);
    for (const i of doomed) {
      const uid = this.uids[i]!;
      write(`${i + 1} EXPUNGE`);
      this.uids.splice(i, 1);
      this.forget(uid);
      this.recent.delete(uid);
      this.reported--;
    }
    this.handle.forgetRemoved([...this.expunged]);
    this.expunged.clear();
  }

  private announceKeywords(flags: readonly string[], write: UntaggedWriter): void {
    let added = false;
    for (const f of flags) {
      if (isKeyword(f) && !this.keywords.has(f)) {
        this.keywords.add(f);
        added = true;
      }
    }
    if (!added) return;
    const list = this.flagList().join(" ");
    write(`FLAGS (${list})`);
    write(this.readOnly ? "OK [PERMANENTFLAGS ()] Read-only mailbox" : `OK [PERMANENTFLAGS (${list} \\*)] Flags permitted`);
  }

  private flagsOf(uid: number): readonly string[] | undefined {
    const f = this.flags.get(uid);
    if (f !== undefined) return f;
    const i = this.openedByUid.indexOf(uid);
    return i >= 0 ? this.opened[i]!.flags : undefined;
  }

  private forget(uid: number): void {
    if (this.openedByUid.indexOf(uid) >= 0) this.flags.set(uid, FORGOTTEN);
    else this.flags.delete(uid);
  }

  private indexOf(uid: number): number {
    return this.byUid.indexOf(uid);
  }
}
