// The narrow interface through which IMAP command handlers reach a user's mail.
// src/mailstore implements it over CRDT state in LevelDB; the protocol layer
// sees only this. Mailbox names here are Unicode with "/" as the separator
// (modified UTF-7 is a wire concern handled by the commands).

import type { SearchKey } from "./types";

export type SpecialUse = "\\Sent" | "\\Drafts" | "\\Trash" | "\\Junk" | "\\Archive";

/** Why a store operation was refused; commands map these to NO [CODE] responses. */
export type StoreErrorCode =
  | "NONEXISTENT"
  | "ALREADYEXISTS"
  | "CANNOT"
  | "TOOBIG"
  | "LIMIT"
  /** RFC 5530: the change was made here but could not be confirmed elsewhere in time (durability: replicated). */
  | "UNAVAILABLE"
  | "SERVERBUG";

/** A keyword is any flag that is not a system flag ("\\..."); FLAGS lists both kinds. */
export function isKeyword(flag: string): boolean {
  return flag.charCodeAt(0) !== 0x5c;
}

export class StoreError extends Error {
  constructor(public readonly code: StoreErrorCode, message: string) {
    super(message);
    this.name = "StoreError";
  }
}

export interface MailboxInfo {
  name: string;
  specialUse?: SpecialUse;
  subscribed: boolean;
}

export interface MailboxStatus {
  messages: number;
  recent: number;
  uidNext: number;
  uidValidity: number;
  unseen: number;
}

/** What SELECT, FETCH FLAGS and SEARCH need of a message without its body. */
export interface MessageMeta {
  uid: number;
  /** Stored flags and keywords, never \Recent (that one is per session). */
  flags: string[];
  /** Milliseconds since the epoch. */
  internalDate: number;
  size: number;
}

/**
 * Changes to a mailbox, pushed to every open handle of it, whether the change
 * came from this session, another session or another replica.
 */
export type MailboxChange =
  | { kind: "added"; message: MessageMeta }
  | { kind: "removed"; uid: number }
  | { kind: "flags"; uid: number; flags: string[] }
  /** The mailbox defined keywords it did not have (see MailboxHandle.keywords). */
  | { kind: "keywords"; keywords: string[] }
  /** The mailbox itself went away (deleted elsewhere) or its UIDVALIDITY changed. */
  | { kind: "gone" };

export interface CopyResult {
  uidValidity: number;
  /** Source UID and the UID it got in the destination, in source UID order. */
  pairs: Array<[number, number]>;
}

/**
 * A change made in memory whose disk write (and, under `durability:
 * replicated`, a replica's acknowledgement) may still be running. `durable`
 * rejects with a StoreError when that fails; it is absent when nothing changed.
 */
export interface Applied<T> {
  value: T;
  durable?: Promise<void>;
}

/** An open (selected or examined) mailbox. */
export interface MailboxHandle {
  readonly name: string;
  readonly uidValidity: number;
  readonly readOnly: boolean;
  uidNext(): number;
  /**
   * Current messages in ascending UID order; served from the per-mailbox
   * index without copying. Read it synchronously and never mutate it or the
   * records' flags: the list may be the store's own, updated in place by later
   * changes (each record is replaced, never mutated, so a record taken from
   * it stays valid).
   */
  messages(): readonly MessageMeta[];
  /**
   * The keywords the mailbox has defined, for FLAGS and PERMANENTFLAGS: at
   * least those on its messages. The list only grows while the mailbox
   * exists (a "keywords" change tells a watcher of each addition), so every
   * session is given the same list, whatever it saw before an EXPUNGE.
   */
  keywords(): Iterable<string>;
  /**
   * A message removed from the mailbox while this handle was watched, as it
   * was then: a session not yet told of the removal keeps serving it.
   */
  removedMessage(uid: number): MessageMeta | undefined;
  /** The session has told its client of these removals (or never numbered them): their records can go. */
  forgetRemoved(uids: readonly number[]): void;
  /**
   * UIDs among `uids` (ascending) that are \Recent for this handle. RFC 3501
   * §2.3.2 gives \Recent to the first session to see a message; a read-write
   * handle claims them, so no later session sees them as \Recent. A
   * read-only one sees those no read-write session has claimed, and claims
   * nothing (§6.3.2: EXAMINE must not clear \Recent).
   */
  recentAmong(uids: readonly number[]): number[];
  /** The raw RFC 5322 bytes. */
  body(uid: number): Promise<Buffer>;
  /** Parsed MIME structure of a message (cached per blob, so bodies are parsed once). */
  mime(uid: number): Promise<import("../mime/types").MimeNode>;
  /** Applies a flag change to the listed UIDs; returns the new flags of each changed message, once durable. */
  store(uids: number[], mode: "set" | "add" | "remove", flags: string[]): Promise<Map<number, string[]>>;
  /**
   * store() without the wait for the disk: a session can run the client's next
   * pipelined command while this one commits, and the two share a group commit.
   */
  applyStore(uids: number[], mode: "set" | "add" | "remove", flags: string[]): Applied<Map<number, string[]>>;
  copy(uids: number[], destination: string): Promise<CopyResult>;
  /** Copy then expunge from this mailbox, as one op. */
  move(uids: number[], destination: string): Promise<CopyResult>;
  /** Removes messages flagged \Deleted, limited to `uids` when given (UID EXPUNGE). Returns removed UIDs. */
  expunge(uids?: number[]): Promise<number[]>;
  /** expunge() without the wait for the disk (see applyStore). */
  applyExpunge(uids?: number[]): Applied<number[]>;
  /**
   * UIDs matching the key, ascending. `seqOf` maps a UID to this session's
   * sequence number. `removed` are UIDs another session expunged that this
   * session has not been told of: they keep their sequence numbers until it
   * is, so they are searched as they were when removed.
   */
  search(key: SearchKey, seqOf: (uid: number) => number, recent: ReadonlySet<number>, removed?: readonly number[]): Promise<number[]>;
  /** Subscribes to changes; returns the unsubscribe function. */
  watch(listener: (change: MailboxChange) => void): () => void;
  close(): void;
}

/** One authenticated user's mail. */
export interface UserStore {
  readonly user: string;
  list(): MailboxInfo[];
  /** Mailbox that exists, resolving INBOX case-insensitively; undefined if none. */
  info(name: string): MailboxInfo | undefined;
  create(name: string): Promise<void>;
  delete(name: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  subscribe(name: string): Promise<void>;
  unsubscribe(name: string): Promise<void>;
  /** Names subscribed to, including ones that no longer exist (LSUB reports those too). */
  subscriptions(): string[];
  status(name: string): MailboxStatus;
  append(
    name: string,
    body: Buffer,
    flags: string[],
    internalDate?: number,
  ): Promise<{ uidValidity: number; uid: number }>;
  open(name: string, readOnly: boolean): Promise<MailboxHandle>;
}

/** Resolves a logged-in user to their mail. */
export interface MailStore {
  forUser(user: string): Promise<UserStore>;
}
