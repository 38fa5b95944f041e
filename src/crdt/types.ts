// The op vocabulary of one user's mail. Everything here is plain data so that
// ops can be logged, shipped between replicas and replayed byte for byte.
//
// A tag (dot) is unique across the cluster: `${replica}:${seq}:${index}`,
// where (replica, seq) is the id of the op that made it and index is the
// effect's position within that op. Message ids and mailbox ids are tags.

export type ReplicaId = string;
export type Tag = string;

/** Highest op sequence number delivered from each origin replica. */
export type VersionVector = Record<ReplicaId, number>;

export interface OpId {
  replica: ReplicaId;
  seq: number;
}

export interface Op {
  id: OpId;
  /** Causal context: what the origin had delivered when it made this op. */
  deps: VersionVector;
  /** Applied atomically and in order. */
  effects: Effect[];
}

export type Effect =
  | {
      type: "mailbox.create";
      /** Fresh tag for a new mailbox, or a fixed id for the default folders (see DEFAULT_MAILBOXES). */
      mailboxId: Tag;
      name: string;
      uidValidity: number;
      specialUse?: string;
    }
  /** The name is a register: a causally later rename wins; concurrent ones resolve by op id. */
  | { type: "mailbox.rename"; mailboxId: Tag; name: string }
  /**
   * Removes only what the deleting replica had observed: the mailbox's
   * existence tags and its messages. Concurrent appends keep the mailbox alive.
   */
  | { type: "mailbox.delete"; mailboxId: Tag; observedTags: Tag[]; observedMessages: Tag[] }
  | {
      type: "message.add";
      mailboxId: Tag;
      /** The message id; also an existence tag of the mailbox (add-wins against DELETE). */
      messageId: Tag;
      /** SHA-256 hex of the body blob. */
      blob: string;
      size: number;
      internalDate: number;
      flags: string[];
      /** UID proposed by the replica that ran APPEND/COPY/MOVE. */
      uid: number;
    }
  /** EXPUNGE (and the source half of MOVE). */
  | { type: "message.remove"; mailboxId: Tag; messageIds: Tag[] }
  | { type: "flags.add"; mailboxId: Tag; messageId: Tag; flags: string[] }
  /** Removes the observed tags of these flags only: a concurrent add wins. */
  | { type: "flags.remove"; mailboxId: Tag; messageId: Tag; observed: Array<{ flag: string; tags: Tag[] }> }
  /**
   * A new UID for a message whose UID claim collided with a concurrent claim
   * (split brain). Only the message's origin replica issues it.
   */
  | { type: "uid.reassign"; mailboxId: Tag; messageId: Tag; uid: number }
  | { type: "subscription.add"; name: string }
  | { type: "subscription.remove"; name: string; observedTags: Tag[] };

/** The folders every new user gets, with ids fixed so every replica agrees. */
export const DEFAULT_MAILBOXES: ReadonlyArray<{ mailboxId: Tag; name: string; specialUse?: string }> = [
  { mailboxId: "default:INBOX", name: "INBOX" },
  { mailboxId: "default:Sent", name: "Sent", specialUse: "\\Sent" },
  { mailboxId: "default:Drafts", name: "Drafts", specialUse: "\\Drafts" },
  { mailboxId: "default:Trash", name: "Trash", specialUse: "\\Trash" },
  { mailboxId: "default:Junk", name: "Junk", specialUse: "\\Junk" },
  { mailboxId: "default:Archive", name: "Archive", specialUse: "\\Archive" },
];
