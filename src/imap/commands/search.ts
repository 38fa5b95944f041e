// SEARCH and UID SEARCH (RFC 3501 §6.4.4). An unsupported CHARSET is refused
// by the grammar with NO [BADCHARSET (UTF-8 US-ASCII)].
import { ok, SELECTED, type CommandSpec } from "../dispatcher";
import { parseSearchProgram } from "../grammar/search-keys";
import { ProtocolError } from "../tokenizer";
import type { SearchKey, Token } from "../types";

export const search: CommandSpec<{ key: SearchKey; uid: boolean }> = {
  name: "SEARCH",
  states: SELECTED,
  uid: true,
  updates: "no-expunge",
  parse(args: Token[], uid: boolean) {
    if (args.length === 0) throw new ProtocolError("Expected search criteria");
    return { key: parseSearchProgram(args).key, uid };
  },
  async handle(ctx, { key, uid }) {
    const view = ctx.view!;
    // New messages get their numbers first, so that `*` and sequence keys mean what the client will see.
    ctx.flushUpdates(false);
    // Messages others expunged keep their numbers until this session hears of it (§7.4.1), and match as they were.
    const found = await view.handle.search(key, (u) => view.seqOf(u), view.recent, view.pendingExpunges());
    const hits: number[] = [];
    for (const u of found) {
      const seq = view.seqOf(u);
      if (seq > 0) hits.push(uid ? u : seq);
    }
    // Already ascending (UIDs ascend and sequence numbers follow UIDs) unless the view says otherwise.
    let sorted = true;
    for (let i = 1; i < hits.length && sorted; i++) if (hits[i - 1]! > hits[i]!) sorted = false;
    if (!sorted) hits.sort((a, b) => a - b);
    ctx.untagged(hits.length > 0 ? `SEARCH ${hits.join(" ")}` : "SEARCH");
    return ok("SEARCH completed");
  },
};
