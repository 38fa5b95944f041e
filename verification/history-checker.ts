// A history checker for fault tests. Clients record every write the server
// acknowledged; after the cluster heals, the checker compares that history
// with what each replica reports holding (a mail node's admin `/replica`).
// Messages are identified by their body digest (the store is content
// addressed), because a UID may legitimately change when a split brain is
// merged; UIDs are only checked as each client saw them.

export interface ReplicaMessage {
  uid: number;
  /** SHA-256 of the message bytes. */
  blob: string;
  flags: string[];
}

export interface ReplicaView {
  user: string;
  digest: string;
  mailboxes: Array<{ name: string; uidValidity: number; messages: ReplicaMessage[] }>;
}

type Event =
  | { kind: "append"; client: string; user: string; mailbox: string; blob: string; uid: number; uidValidity: number; flags: string[] }
  | { kind: "store"; client: string; user: string; mailbox: string; blob: string; flag: string; set: boolean }
  | { kind: "expunge"; client: string; user: string; mailbox: string; blob: string }
  | { kind: "create"; client: string; user: string; mailbox: string }
  | { kind: "delete"; client: string; user: string; mailbox: string }
  | { kind: "rename"; client: string; user: string; mailbox: string; to: string }
  | { kind: "move"; client: string; user: string; mailbox: string; to: string; blob: string };

export class HistoryChecker {
  private readonly events: Event[] = [];

  get size(): number {
    return this.events.length;
  }

  /** An APPEND answered OK [APPENDUID uidValidity uid]. */
  append(client: string, user: string, mailbox: string, blob: string, uidValidity: number, uid: number, flags: string[] = []): void {
    this.events.push({ kind: "append", client, user, mailbox, blob, uid, uidValidity, flags });
  }

  /** A STORE whose OK came with the message's FETCH FLAGS (so it reached the message). */
  store(client: string, user: string, mailbox: string, blob: string, flag: string, set: boolean): void {
    this.events.push({ kind: "store", client, user, mailbox, blob, flag, set });
  }

  /** An EXPUNGE (or UID EXPUNGE) that reported the message expunged. */
  expunge(client: string, user: string, mailbox: string, blob: string): void {
    this.events.push({ kind: "expunge", client, user, mailbox, blob });
  }

  create(client: string, user: string, mailbox: string): void {
    this.events.push({ kind: "create", client, user, mailbox });
  }

  delete(client: string, user: string, mailbox: string): void {
    this.events.push({ kind: "delete", client, user, mailbox });
  }

  rename(client: string, user: string, mailbox: string, to: string): void {
    this.events.push({ kind: "rename", client, user, mailbox, to });
  }

  move(client: string, user: string, mailbox: string, to: string, blob: string): void {
    this.events.push({ kind: "move", client, user, mailbox, to, blob });
  }

  users(): string[] {
    return [...new Set(this.events.map((e) => e.user))].sort();
  }

  /**
   * Problems found, empty when the history holds. `replicas` maps a replica
   * name to its view of each user; `holds` says which replicas should hold a user.
   */
  verify(replicas: ReadonlyMap<string, ReadonlyMap<string, ReplicaView>>, holds: (replica: string, user: string) => boolean = () => true): string[] {
    const problems: string[] = [];
    problems.push(...this.checkUidsPerClient());
    for (const user of this.users()) {
      const views = [...replicas].filter(([name]) => holds(name, user)).map(([name, byUser]) => [name, byUser.get(user)] as const);
      const digests = new Set(views.map(([, v]) => v?.digest ?? "missing"));
      if (digests.size !== 1) problems.push(`${user}: replicas disagree: ${views.map(([n, v]) => `${n}=${v?.digest.slice(0, 12) ?? "missing"}`).join(" ")}`);
      const expected = this.expectedFor(user);
      for (const [name, view] of views) {
        if (!view) {
          problems.push(`${user}: ${name} holds nothing`);
          continue;
        }
        problems.push(...this.compare(user, name, view, expected));
      }
    }
    return problems;
  }

  /** Every APPENDUID a client got, in order, per mailbox and UIDVALIDITY: strictly ascending. */
  private checkUidsPerClient(): string[] {
    const last = new Map<string, number>();
    const problems: string[] = [];
    for (const e of this.events) {
      if (e.kind !== "append") continue;
      const key = `${e.client}|${e.user}|${e.mailbox}|${e.uidValidity}`;
      const prev = last.get(key) ?? 0;
      if (e.uid <= prev) problems.push(`${e.client}: UID went backwards in ${e.user}/${e.mailbox}: ${e.uid} after ${prev}`);
      last.set(key, Math.max(prev, e.uid));
    }
    return problems;
  }

  /**
   * What must hold after the history: mailboxes that must exist or not,
   * messages (by body digest) that must be in a mailbox or gone, and flags
   * whose every acknowledged change came from one client (so their order is
   * known). Writes later undone by an acknowledged write are not required.
   */
  private expectedFor(user: string) {
    const mailboxes = new Map<string, boolean>();
    const present = new Map<string, string>(); // blob -> mailbox
    const gone = new Set<string>();
    const flagWriters = new Map<string, Set<string>>(); // blob|flag -> clients
    const flagFinal = new Map<string, boolean>();
    for (const e of this.events) {
      if (e.user !== user) continue;
      switch (e.kind) {
        case "create":
          mailboxes.set(e.mailbox, true);
          break;
        case "delete":
          mailboxes.set(e.mailbox, false);
          for (const [b, m] of present) if (m === e.mailbox) present.delete(b);
          break;
        case "rename":
          mailboxes.set(e.mailbox, e.mailbox.toUpperCase() === "INBOX");
          mailboxes.set(e.to, true);
          for (const [b, m] of present) if (m === e.mailbox) present.set(b, e.to);
          break;
        case "append":
          present.set(e.blob, e.mailbox);
          gone.delete(e.blob);
          for (const f of e.flags) {
            flagWriters.set(`${e.blob}|${f}`, new Set([e.client]));
            flagFinal.set(`${e.blob}|${f}`, true);
          }
          break;
        case "move":
          present.set(e.blob, e.to);
          break;
        case "expunge":
          present.delete(e.blob);
          gone.add(e.blob);
          break;
        case "store": {
          const k = `${e.blob}|${e.flag}`;
          if (!flagWriters.has(k)) flagWriters.set(k, new Set());
          flagWriters.get(k)!.add(e.client);
          flagFinal.set(k, e.set);
          break;
        }
      }
    }
    const flags = new Map<string, boolean>();
    for (const [k, set] of flagFinal) if (flagWriters.get(k)!.size === 1) flags.set(k, set);
    return { mailboxes, present, gone, flags };
  }

  private compare(user: string, replica: string, view: ReplicaView, exp: ReturnType<HistoryChecker["expectedFor"]>): string[] {
    const problems: string[] = [];
    const byName = new Map(view.mailboxes.map((m) => [m.name, m]));
    const where = new Map<string, { mailbox: string; flags: string[] }[]>();
    for (const m of view.mailboxes) {
      const uids = m.messages.map((x) => x.uid);
      if (new Set(uids).size !== uids.length) problems.push(`${user}@${replica}: duplicate UIDs in ${m.name}`);
      for (const x of m.messages) {
        if (!where.has(x.blob)) where.set(x.blob, []);
        where.get(x.blob)!.push({ mailbox: m.name, flags: x.flags });
      }
    }
    for (const [mailbox, exists] of exp.mailboxes) {
      if (exists !== byName.has(mailbox)) problems.push(`${user}@${replica}: mailbox ${mailbox} ${exists ? "missing" : "still there"}`);
    }
    for (const [blob, mailbox] of exp.present) {
      const at = where.get(blob) ?? [];
      if (!at.some((w) => w.mailbox === mailbox)) problems.push(`${user}@${replica}: acknowledged message ${blob.slice(0, 12)} missing from ${mailbox}`);
    }
    for (const blob of exp.gone) {
      if (exp.present.has(blob)) continue;
      if ((where.get(blob) ?? []).length > 0) problems.push(`${user}@${replica}: expunged message ${blob.slice(0, 12)} is back`);
    }
    for (const [k, set] of exp.flags) {
      const [blob, flag] = k.split("|") as [string, string];
      const mailbox = exp.present.get(blob);
      if (!mailbox) continue;
      const at = (where.get(blob) ?? []).find((w) => w.mailbox === mailbox);
      if (at && at.flags.includes(flag) !== set) problems.push(`${user}@${replica}: ${blob.slice(0, 12)} should ${set ? "" : "not "}have ${flag}`);
    }
    return problems;
  }
}
