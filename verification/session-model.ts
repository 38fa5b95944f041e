// A client's picture of its selected mailbox built only from what the server
// sent it, the way imaptest's state tracking builds one: EXISTS adds unknown
// messages, EXPUNGE removes by number, FETCH fills in UID and FLAGS. The
// session-views test compares these pictures with the store at checkpoints,
// as imaptest's checkpoints do, but over seeded interleavings it can replay.

export interface Entry {
  uid?: number;
  /** Without \Recent, which is per session. */
  flags?: string[];
}

const strip = (flags: string): string[] => flags.split(" ").filter((f) => f !== "" && f !== "\\Recent");

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((f) => b.includes(f));
}

export class ModelClient {
  entries: Entry[] = [];
  /** The keywords of the last FLAGS response. */
  keywords = new Set<string>();
  /** Responses no client could make sense of. */
  readonly problems: string[] = [];

  constructor(readonly name: string) {}

  /** Applies one response; returns the tag and status of a tagged one. */
  apply(response: string): { tag: string; status: string } | undefined {
    const tagged = /^([^*+ ]\S*) (OK|NO|BAD)\b/.exec(response);
    if (tagged) return { tag: tagged[1]!, status: tagged[2]! };
    let m: RegExpExecArray | null;
    if ((m = /^\* (\d+) EXISTS$/.exec(response))) {
      const n = Number(m[1]);
      if (n < this.entries.length) this.problem(`EXISTS ${n} below the ${this.entries.length} known`);
      while (this.entries.length < n) this.entries.push({});
    } else if ((m = /^\* (\d+) EXPUNGE$/.exec(response))) {
      const n = Number(m[1]);
      if (n < 1 || n > this.entries.length) this.problem(`EXPUNGE ${n} of ${this.entries.length}`);
      else this.entries.splice(n - 1, 1);
    } else if ((m = /^\* FLAGS \(([^)]*)\)$/.exec(response))) {
      this.keywords = new Set(strip(m[1]!).filter((f) => !f.startsWith("\\")));
    } else if ((m = /^\* (\d+) FETCH \((.*)\)$/.exec(response))) {
      const entry = this.entries[Number(m[1]) - 1];
      if (!entry) return this.problem(`FETCH of ${m[1]} with ${this.entries.length} known`);
      const uid = /(?:^| )UID (\d+)/.exec(m[2]!);
      if (uid) {
        if (entry.uid !== undefined && entry.uid !== Number(uid[1])) this.problem(`seq ${m[1]} was UID ${entry.uid}, now ${uid[1]}`);
        entry.uid = Number(uid[1]);
      }
      const flags = /(?:^| )FLAGS \(([^)]*)\)/.exec(m[2]!);
      if (flags) {
        entry.flags = strip(flags[1]!);
        for (const k of entry.flags) if (!k.startsWith("\\") && !this.keywords.has(k)) this.problem(`keyword ${k} used before FLAGS listed it`);
      }
    }
    return undefined;
  }

  /**
   * What a client infers from its own STORE .SILENT: the server will not say.
   * Written apart from the server's own inference on purpose: a model that
   * shared the server's code would share its mistakes.
   */
  inferSilentStore(uids: readonly number[], mode: "+" | "-" | "", flags: readonly string[]): void {
    for (const e of this.entries) {
      if (e.uid === undefined || !uids.includes(e.uid)) continue;
      if (mode === "") e.flags = [...flags];
      else if (e.flags === undefined) continue;
      else if (mode === "+") e.flags = [...new Set([...e.flags, ...flags])];
      else e.flags = e.flags.filter((f) => !flags.includes(f));
    }
  }

  /** Differences from the mailbox as a fresh session sees it. */
  differences(truth: ModelClient): string[] {
    const out: string[] = [];
    if (this.entries.length !== truth.entries.length) out.push(`${this.name}: ${this.entries.length} messages, the store has ${truth.entries.length}`);
    this.entries.forEach((e, i) => {
      const t = truth.entries[i];
      if (!t) return;
      if (e.uid !== undefined && e.uid !== t.uid) out.push(`${this.name}: seq ${i + 1} is UID ${e.uid}, the store's is ${t.uid}`);
      if (e.flags && !sameSet(e.flags, t.flags ?? [])) out.push(`${this.name}: UID ${t.uid} flags (${e.flags.join(" ")}), the store's (${(t.flags ?? []).join(" ")})`);
    });
    for (const k of truth.keywords) if (!this.keywords.has(k)) out.push(`${this.name}: keyword ${k} missing from FLAGS`);
    return out;
  }

  private problem(text: string): undefined {
    this.problems.push(`${this.name}: ${text}`);
    return undefined;
  }
}
