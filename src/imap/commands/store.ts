// STORE and UID STORE (RFC 3501 §6.4.6). The untagged FETCH carries the flags
// after the change (and the UID for UID STORE) unless .SILENT was asked for.
// Messages another session expunged are skipped and the answer is still OK,
// with [EXPUNGEISSUED] (RFC 2180 §4.2.1, RFC 5530): the change was made to
// every message that exists, and clients such as imaptest (and Dovecot's own
// behaviour) treat a NO to STORE as a failed change.
import { afterCommit, no, ok, SELECTED, type CommandSpec } from "../dispatcher";
import { parseFlagList } from "../grammar/flags";
import { ProtocolError } from "../tokenizer";
import type { SequenceSet, StoreMode, Token } from "../types";
import { resolveSet, sequenceSetArg } from "./args";
import { rejectRecent } from "./append";

export interface StoreArgs {
  set: SequenceSet;
  mode: StoreMode;
  silent: boolean;
  flags: string[];
  uid: boolean;
}

const ITEM = /^([+-]?)FLAGS(\.SILENT)?$/i;

export const store: CommandSpec<StoreArgs> = {
  name: "STORE",
  states: SELECTED,
  uid: true,
  updates: "no-expunge",
  parse(args: Token[], uid: boolean) {
    if (args.length < 3) throw new ProtocolError("Expected sequence set, data item and flags");
    const set = sequenceSetArg(args[0]);
    const itemTok = args[1]!;
    const m = itemTok.type === "atom" ? ITEM.exec(itemTok.value) : null;
    if (!m) throw new ProtocolError("Expected FLAGS, +FLAGS or -FLAGS (optionally .SILENT)");
    const rest = args.slice(2);
    const flags = rejectRecent(parseFlagList(rest.length === 1 ? rest[0]! : rest));
    const mode: StoreMode = m[1] === "+" ? "add" : m[1] === "-" ? "remove" : "set";
    return { set, mode, silent: m[2] !== undefined, flags, uid };
  },
  async handle(ctx, a) {
    const view = ctx.view!;
    if (view.readOnly) return no("Mailbox is read-only");
    const targets = resolveSet(view, a.set, a.uid);
    const live = targets.filter((u) => !view.isExpunged(u));
    const { value: changed, durable } = live.length > 0 ? view.handle.applyStore(live, a.mode, a.flags) : { value: new Map<number, string[]>() };
    const current = new Map<number, string[]>();
    const wanted = new Set(live);
    for (const m of view.handle.messages()) if (wanted.has(m.uid)) current.set(m.uid, m.flags);
    const write = (line: string) => ctx.untagged(line);
    let missing = live.length !== targets.length;
    for (const uid of live) {
      const flags = changed.get(uid) ?? current.get(uid);
      if (!flags) {
        missing = true;
        continue;
      }
      if (a.silent) {
        view.noteSilentStore(uid, a.mode, a.flags, write);
        continue;
      }
      const text = view.reportFlags(uid, flags, write);
      ctx.untagged(`${view.seqOf(uid)} FETCH (FLAGS ${text}${a.uid ? ` UID ${uid}` : ""})`);
    }
    if (missing) return afterCommit(ok("STORE completed; some of the messages no longer exist", "EXPUNGEISSUED"), durable);
    return afterCommit(ok("STORE completed"), durable);
  },
};
