// EXPUNGE (RFC 3501 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1).
import { afterCommit, no, ok, SELECTED, type CommandSpec } from "../dispatcher";
import { ProtocolError } from "../tokenizer";
import type { SequenceSet, Token } from "../types";
import { noArgs, resolveSet, sequenceSetArg } from "./args";

export const expunge: CommandSpec<{ uids?: SequenceSet }> = {
  name: "EXPUNGE",
  states: SELECTED,
  uid: true,
  parse(args: Token[], uid: boolean) {
    if (!uid) {
      noArgs(args);
      return {};
    }
    if (args.length !== 1) throw new ProtocolError("UID EXPUNGE needs a UID set");
    return { uids: sequenceSetArg(args[0]) };
  },
  async handle(ctx, { uids }) {
    const view = ctx.view!;
    if (view.readOnly) return no("Mailbox is read-only");
    const limit = uids ? resolveSet(view, uids, true) : undefined;
    if (limit && limit.length === 0) return ok("EXPUNGE completed");
    // Applied now; the tagged OK waits for the commit while the client's next pipelined commands run (see Reply.durable).
    const { value: removed, durable } = view.handle.applyExpunge(limit);
    view.expungeOwn(removed, (line) => ctx.untagged(line));
    return afterCommit(ok("EXPUNGE completed"), durable);
  },
};
