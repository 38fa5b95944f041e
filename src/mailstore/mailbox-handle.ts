// An open mailbox. Reads come from the in-memory CRDT index; bodies and MIME
// trees from the blob store. Writes are single ops through the user replica.

import { buildFlagChange, buildRemoveMessages, mailboxById, messageByUid, messages, uidNext, type MessageRecord } from "../crdt";
import type { Effect, Tag } from "../crdt/types";
import {
  StoreError,
  type Applied,
  type CopyResult,
  type MailboxChange,
  type MailboxHandle,
  type MessageMeta,
} from "../imap/store-port";
import type { SearchKey } from "../imap/types";
import { parseMime } from "../mime";
import type { MimeNode } from "../mime/types";
import { hasFlag, normalizeFlags, sameFlags } from "./flags";
import { addMessages, asEffects } from "./message-effects";
import { needsContent, searchMessages } from "./search";
import type { LevelUserStore } from "./user-store";

export class LevelMailboxHandle implements MailboxHandle {
  private readonly unwatchers = new Set<() => void>();
  private closed = false;
  /** Messages removed while this handle watched, until its session has told its client (forgetRemoved). */
  private readonly removed = new Map<number, MessageRecord>();

  constructor(
    private readonly owner: LevelUserStore,
    readonly mailboxId: Tag,
    readonly name: string,
    readonly uidValidity: number,
    readonly readOnly: boolean,
  ) {}

  private get replica() {
    return this.owner.replica;
  }

  private get state() {
    return this.owner.replica.state;
  }

  uidNext(): number {
    return this.exists() ? uidNext(this.state, this.mailboxId) : 1;
  }

  messages(): readonly MessageMeta[] {
    // The index's own list: records are replaced on change, never mutated, so no copy is needed.
    return this.exists() ? messages(this.state, this.mailboxId) : [];
  }

  keywords(): Iterable<string> {
    return this.exists() ? this.replica.mailboxKeywords(this.mailboxId) : [];
  }

  recentAmong(uids: readonly number[]): number[] {
    if (this.closed) return [];
    // EXAMINE reports \Recent but MUST NOT clear it (RFC 3501 §6.3.2): a later SELECT still gets it.
    if (this.readOnly) return this.replica.unclaimedRecent(this.mailboxId, uids);
    return this.replica.claimRecent(this.mailboxId, uids);
  }

  async body(uid: number): Promise<Buffer> {
    const blob = this.blobOf(uid);
    const body = await this.owner.blobs.get(blob);
    if (!body) throw new StoreError("SERVERBUG", `Body of message ${uid} is missing`);
    return body;
  }

  async mime(uid: number): Promise<MimeNode> {
    const blob = this.blobOf(uid);
    const cached = await this.owner.blobs.getMime(blob);
    if (cached) return cached;
    // Blobs that arrived by replication are parsed on first use.
    const node = await parseMime(await this.body(uid));
    await this.owner.blobs.putMime(blob, node);
    return node;
  }

  async store(uids: number[], mode: "set" | "add" | "remove", flags: string[]): Promise<Map<number, string[]>> {
    return once(this.applyStore(uids, mode, flags));
  }

  applyStore(uids: number[], mode: "set" | "add" | "remove", flags: string[]): Applied<Map<number, string[]>> {
    this.checkWritable();
    const wanted = normalizeFlags(flags);
    const before = new Map<number, { messageId: Tag; flags: string[] }>();
    for (const uid of new Set(uids)) {
      const r = messageByUid(this.state, this.mailboxId, uid);
      if (r) before.set(uid, { messageId: r.messageId, flags: [...r.flags] });
    }
    const res = this.replica.commitLocal(() => {
      const effects: Effect[] = [];
      for (const { messageId } of before.values()) {
        effects.push(...asEffects(buildFlagChange(this.state, this.mailboxId, messageId, mode, wanted)));
      }
      return effects;
    });
    const changed = new Map<number, string[]>();
    for (const [uid, old] of before) {
      const r = messageByUid(this.state, this.mailboxId, uid);
      if (r && r.messageId === old.messageId && !sameFlags(old.flags, [...r.flags])) changed.set(uid, [...r.flags]);
    }
    return applied(changed, res);
  }

  copy(uids: number[], destination: string): Promise<CopyResult> {
    return this.transfer(uids, destination, false);
  }

  async move(uids: number[], destination: string): Promise<CopyResult> {
    this.checkWritable();
    return this.transfer(uids, destination, true);
  }

  async expunge(uids?: number[]): Promise<number[]> {
    return once(this.applyExpunge(uids));
  }

  applyExpunge(uids?: number[]): Applied<number[]> {
    this.checkWritable();
    const limit = uids ? new Set(uids) : undefined;
    const doomed = messages(this.state, this.mailboxId).filter(
      (r) => hasFlag(r.flags, "\\Deleted") && (!limit || limit.has(r.uid)),
    );
    if (doomed.length === 0) return applied([], null);
    const res = this.replica.commitLocal(() =>
      asEffects(buildRemoveMessages(this.mailboxId, doomed.map((r) => r.messageId))),
    );
    return applied(doomed.map((r) => r.uid), res);
  }

  removedMessage(uid: number): MessageRecord | undefined {
    return this.removed.get(uid);
  }

  forgetRemoved(uids: readonly number[]): void {
    for (const uid of uids) this.removed.delete(uid);
  }

  async search(key: SearchKey, seqOf: (uid: number) => number, recent: ReadonlySet<number>, removed: readonly number[] = []): Promise<number[]> {
    this.checkOpen();
    // messages() is a live view; content keys await between messages, so they search a copy.
    let list: readonly MessageMeta[] = messages(this.state, this.mailboxId);
    const gone = removed.flatMap((uid) => this.removedMessage(uid) ?? []);
    if (gone.length > 0) list = [...list, ...gone].sort((a, b) => a.uid - b.uid);
    else if (needsContent(key)) list = [...list];
    return searchMessages(key, list, {
      seqOf,
      recent,
      load: async (uid) => ({ body: await this.body(uid), mime: await this.mime(uid) }),
    });
  }

  watch(listener: (change: MailboxChange) => void): () => void {
    this.checkOpen();
    const unwatch = this.replica.watch(this.mailboxId, this.uidValidity, (change) => {
      if (change.kind !== "removed") return listener(change);
      if (change.record) this.removed.set(change.uid, change.record);
      listener({ kind: "removed", uid: change.uid });
    });
    const remove = () => {
      unwatch();
      this.unwatchers.delete(remove);
    };
    this.unwatchers.add(remove);
    return remove;
  }

  close(): void {
    this.closed = true;
    for (const u of [...this.unwatchers]) u();
    this.removed.clear();
  }

  private async transfer(uids: number[], destination: string, move: boolean): Promise<CopyResult> {
    this.checkOpen();
    const dest = this.owner.destination(destination);
    const wanted = new Set(uids);
    const sources = messages(this.state, this.mailboxId).filter((r) => wanted.has(r.uid));
    const result: CopyResult = { uidValidity: dest.uidValidity, pairs: [] };
    const res = this.replica.commitLocal((seq) => {
      const effects: Effect[] = [];
      if (sources.length === 0) return effects;
      const given = addMessages(effects, this.owner.replicaId, seq, dest.mailboxId, uidNext(this.state, dest.mailboxId), sources);
      result.pairs = sources.map((r, i) => [r.uid, given[i]!]);
      if (move) effects.push(...asEffects(buildRemoveMessages(this.mailboxId, sources.map((r) => r.messageId))));
      return effects;
    });
    await res?.durable;
    return result;
  }

  private blobOf(uid: number): string {
    this.checkOpen();
    const r = messageByUid(this.state, this.mailboxId, uid) ?? this.removedMessage(uid);
    if (!r) throw new StoreError("NONEXISTENT", `No message with UID ${uid}`);
    return r.blob;
  }

  private exists(): boolean {
    const m = mailboxById(this.state, this.mailboxId);
    return m !== undefined && m.uidValidity === this.uidValidity;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError("CANNOT", "Mailbox is closed");
    if (!this.exists()) throw new StoreError("NONEXISTENT", "Mailbox no longer exists");
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.readOnly) throw new StoreError("CANNOT", "Mailbox is read-only");
  }
}

/** `durable` is undefined when nothing was written (no op), so nothing need wait. */
function applied<T>(value: T, res: { durable: Promise<void> } | null): Applied<T> {
  return res ? { value, durable: res.durable } : { value };
}

/** The value once its change is durable: store() and expunge() are their apply forms plus this wait. */
async function once<T>(a: Applied<T>): Promise<T> {
  await a.durable;
  return a.value;
}
