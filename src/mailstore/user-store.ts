// UserStore over one user's replica: mailbox management, subscriptions,
// STATUS and APPEND. Each method builds one op from the CRDT builders, so a
// command's effects are atomic and replicate as a unit.

import {
  buildCreate,
  buildDelete,
  buildRemoveMessages,
  buildRename,
  buildSubscribe,
  buildUnsubscribe,
  findMailbox,
  listMailboxes,
  makeTag,
  messages,
  subscriptions,
  uidNext,
} from "../crdt";
import type { Effect, Tag } from "../crdt/types";
import {
  StoreError,
  type MailboxHandle,
  type MailboxInfo,
  type MailboxStatus,
  type SpecialUse,
  type UserStore,
} from "../imap/store-port";
import { parseMime } from "../mime";
import { sha256Hex, type BlobStore } from "./blob-store";
import { hasFlag, normalizeFlags } from "./flags";
import { LevelMailboxHandle } from "./mailbox-handle";
import { checkNewName, isInferior, normalizeName, superiorNames } from "./mailbox-names";
import { addMessages, asEffects } from "./message-effects";
import type { Logger, UserReplica } from "./user-replica";

import type { MailboxRecord } from "../crdt";

export interface UserStoreEnv {
  blobs: BlobStore;
  replicaId: string;
  maxMessageSize: number;
  log?: Logger;
}

export class LevelUserStore implements UserStore {
  constructor(
    readonly replica: UserReplica,
    private readonly env: UserStoreEnv,
  ) {}

  get user(): string {
    return this.replica.user;
  }

  list(): MailboxInfo[] {
    const subs = new Set(subscriptions(this.replica.state));
    return listMailboxes(this.replica.state)
      .map((m) => this.toInfo(m, subs))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  info(name: string): MailboxInfo | undefined {
    const m = this.find(name);
    return m ? this.toInfo(m, new Set(subscriptions(this.replica.state))) : undefined;
  }

  async create(rawName: string): Promise<void> {
    const name = checkNewName(rawName);
    if (this.find(name)) throw new StoreError("ALREADYEXISTS", "Mailbox already exists");
    const res = this.replica.commitLocal((seq) => {
      const effects: Effect[] = [];
      // RFC 3501 §6.3.3: the server SHOULD create the superior names that are needed.
      for (const n of superiorNames(name)) if (!this.find(n)) this.pushCreate(effects, seq, n);
      this.pushCreate(effects, seq, name);
      return effects;
    });
    await res?.durable;
  }

  async delete(rawName: string): Promise<void> {
    const name = normalizeName(rawName);
    if (name === "INBOX") throw new StoreError("CANNOT", "INBOX cannot be deleted");
    const m = this.require(name);
    // Without \Noselect mailboxes, deleting a parent would orphan its children (RFC 3501 §6.3.4).
    if (listMailboxes(this.replica.state).some((o) => isInferior(o.name, m.name))) {
      throw new StoreError("CANNOT", "Mailbox has inferior hierarchical names; delete those first");
    }
    const res = this.replica.commitLocal(() => asEffects(buildDelete(this.replica.state, m.mailboxId)));
    await res?.durable;
  }

  async rename(rawFrom: string, rawTo: string): Promise<void> {
    const from = normalizeName(rawFrom);
    const to = checkNewName(rawTo);
    const source = this.require(from);
    if (this.find(to)) throw new StoreError("ALREADYEXISTS", "Target mailbox already exists");
    if (from === "INBOX") return this.renameInbox(source, to);
    if (isInferior(to, source.name)) throw new StoreError("CANNOT", "Cannot rename a mailbox into itself");
    const state = this.replica.state;
    const subs = new Set(subscriptions(state));
    const res = this.replica.commitLocal((seq) => {
      const effects: Effect[] = [];
      for (const n of superiorNames(to)) if (!this.find(n) && !isInferior(n, source.name) && n !== source.name) {
        this.pushCreate(effects, seq, n);
      }
      const moved = [source, ...listMailboxes(state).filter((o) => isInferior(o.name, source.name))];
      for (const m of moved) {
        const newName = to + m.name.slice(source.name.length);
        effects.push(...asEffects(buildRename(state, m.mailboxId, newName)));
        // Subscriptions follow the mailbox, as in Dovecot and Cyrus.
        if (subs.has(m.name)) {
          effects.push(...asEffects(buildUnsubscribe(state, m.name)));
          effects.push(...asEffects(buildSubscribe(newName)));
        }
      }
      return effects;
    });
    await res?.durable;
  }

  async subscribe(rawName: string): Promise<void> {
    // RFC 3501 §6.3.6 lets a server accept names that do not exist; like Dovecot we do.
    const name = this.find(rawName) ? normalizeName(rawName) : checkNewName(rawName);
    if (subscriptions(this.replica.state).includes(name)) return;
    const res = this.replica.commitLocal(() => asEffects(buildSubscribe(name)));
    await res?.durable;
  }

  async unsubscribe(rawName: string): Promise<void> {
    const name = normalizeName(rawName);
    if (!subscriptions(this.replica.state).includes(name)) return;
    const res = this.replica.commitLocal(() => asEffects(buildUnsubscribe(this.replica.state, name)));
    await res?.durable;
  }

  subscriptions(): string[] {
    return [...subscriptions(this.replica.state)];
  }

  status(rawName: string): MailboxStatus {
    const m = this.require(normalizeName(rawName));
    const list = messages(this.replica.state, m.mailboxId);
    let unseen = 0;
    for (const r of list) if (!hasFlag(r.flags, "\\Seen")) unseen++;
    return {
      messages: list.length,
      recent: this.replica.recentCount(m.mailboxId),
      uidNext: uidNext(this.replica.state, m.mailboxId),
      uidValidity: m.uidValidity,
      unseen,
    };
  }

  async append(
    rawName: string,
    body: Buffer,
    flags: string[],
    internalDate?: number,
  ): Promise<{ uidValidity: number; uid: number }> {
    if (body.length > this.env.maxMessageSize) {
      throw new StoreError("TOOBIG", `Message exceeds the maximum size of ${this.env.maxMessageSize} octets`);
    }
    const name = normalizeName(rawName);
    if (!this.find(name)) throw nonexistent(name);
    const sha = sha256Hex(body);
    // A body already stored (or in an earlier, still pending batch) is not written again.
    const haveBody = await this.env.blobs.has(sha);
    const haveMime = haveBody && (await this.env.blobs.getMime(sha)) !== undefined;
    const mime = haveMime ? undefined : await parseMime(body);
    // The mailbox may have gone while the body was parsed.
    const m = this.find(name);
    if (!m) throw nonexistent(name);
    const known = haveBody && haveMime;
    const staged = known ? [] : this.env.blobs.stage(sha, haveBody ? undefined : body, mime);
    let uid = 0;
    const res = this.replica.commitLocal(
      (seq) => {
        const effects: Effect[] = [];
        [uid] = addMessages(effects, this.env.replicaId, seq, m.mailboxId, uidNext(this.replica.state, m.mailboxId), [
          { blob: sha, size: body.length, internalDate: internalDate ?? Date.now(), flags: normalizeFlags(flags) },
        ]);
        return effects;
      },
      known ? undefined : { batch: staged, settle: () => this.env.blobs.settle(sha) },
    );
    await res?.durable;
    return { uidValidity: m.uidValidity, uid };
  }

  async open(rawName: string, readOnly: boolean): Promise<MailboxHandle> {
    const name = normalizeName(rawName);
    const m = this.require(name);
    return new LevelMailboxHandle(this, m.mailboxId, name, m.uidValidity, readOnly);
  }

  // ---- shared with mailbox handles ----

  find(name: string): MailboxRecord | undefined {
    return findMailbox(this.replica.state, normalizeName(name));
  }

  /** Destination of COPY/MOVE/APPEND; a missing one maps to NO [TRYCREATE]. */
  destination(name: string): MailboxRecord {
    const m = this.find(name);
    if (!m) throw nonexistent(name);
    return m;
  }

  get blobs(): BlobStore {
    return this.env.blobs;
  }

  get replicaId(): string {
    return this.env.replicaId;
  }

  private require(name: string): MailboxRecord {
    const m = this.find(name);
    if (!m) throw new StoreError("NONEXISTENT", `Mailbox does not exist: ${name}`);
    return m;
  }

  private pushCreate(effects: Effect[], seq: number, name: string): Tag {
    const mailboxId = makeTag(this.env.replicaId, seq, effects.length);
    effects.push(...asEffects(buildCreate(this.replica.state, mailboxId, name, this.replica.nextUidValidity())));
    return mailboxId;
  }

  /**
   * RFC 3501 §6.3.5: renaming INBOX moves its messages into a new mailbox and
   * leaves INBOX empty; INBOX's inferiors stay where they are.
   */
  private async renameInbox(inbox: MailboxRecord, to: string): Promise<void> {
    const state = this.replica.state;
    const res = this.replica.commitLocal((seq) => {
      const effects: Effect[] = [];
      for (const n of superiorNames(to)) if (!this.find(n)) this.pushCreate(effects, seq, n);
      const target = this.pushCreate(effects, seq, to);
      const list = messages(state, inbox.mailboxId);
      addMessages(effects, this.env.replicaId, seq, target, 1, list);
      if (list.length > 0) {
        effects.push(...asEffects(buildRemoveMessages(inbox.mailboxId, list.map((r) => r.messageId))));
      }
      return effects;
    });
    await res?.durable;
  }

  private toInfo(m: MailboxRecord, subs: Set<string>): MailboxInfo {
    const info: MailboxInfo = { name: m.name, subscribed: subs.has(m.name) };
    if (m.specialUse) info.specialUse = m.specialUse as SpecialUse;
    return info;
  }
}

function nonexistent(name: string): StoreError {
  return new StoreError("NONEXISTENT", `Mailbox does not exist: ${name} (create it first)`);
}
