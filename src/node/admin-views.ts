// What a mail node's admin port tells about the mail it holds, read from its
// own store: operators and the cluster tests compare replicas with these.
import { digest, listMailboxes, messages } from "../crdt";
import { storedUsers, type LevelMailStore } from "../mailstore";

/** Admin `/users`: every user with mail in this node's store, and how much. */
const MAX_LISTED_USERS = 1000;

export async function heldMail(store: LevelMailStore): Promise<{ users: Array<{ name: string; mailboxes: number; messages: number }>; truncated: boolean }> {
  const names = await storedUsers(store.db);
  const users = [];
  for (const name of names.slice(0, MAX_LISTED_USERS)) {
    const u = await store.forUser(name);
    const mailboxes = u.list();
    users.push({ name, mailboxes: mailboxes.length, messages: mailboxes.reduce((n, m) => n + u.status(m.name).messages, 0) });
  }
  return { users, truncated: names.length > MAX_LISTED_USERS };
}

/**
 * Admin `/replica?user=NAME`: one user's replica as this node holds it (state
 * digest, version vector, tombstones not yet purged, every mailbox with its
 * messages by UID, body digest and flags), for operators comparing replicas
 * and for the history checker.
 */
export async function replicaView(store: LevelMailStore, user: string | null): Promise<unknown> {
  if (!user || !(await storedUsers(store.db)).includes(user)) return undefined;
  await store.queue.drain();
  const replica = await store.replica(user);
  const state = replica.state;
  return {
    user,
    digest: digest(state),
    vv: replica.versionVector(),
    // Expunged messages still held in memory until every replica is past them.
    tombstones: replica.tombstones().length,
    mailboxes: listMailboxes(state).map((m) => ({
      name: m.name,
      uidValidity: m.uidValidity,
      messages: messages(state, m.mailboxId).map((r) => ({ uid: r.uid, blob: r.blob, flags: r.flags })),
    })),
  };
}
