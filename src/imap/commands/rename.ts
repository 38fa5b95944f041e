// RENAME (RFC 3501 §6.3.5); the store implements INBOX's special case.
import { AUTHENTICATED, no, ok, type CommandSpec } from "../dispatcher";
import type { Token } from "../types";
import { expectCount, mailboxArg } from "./args";

export const rename: CommandSpec<{ from: string; to: string }> = {
  name: "RENAME",
  states: AUTHENTICATED,
  parse(args: Token[]) {
    expectCount(args, 2, 2, "existing and new mailbox names");
    return { from: mailboxArg(args[0]), to: mailboxArg(args[1]).replace(/\/+$/, "") };
  },
  async handle(ctx, { from, to }) {
    if (to === "") return no("Mailbox name is empty", "CANNOT");
    if (to === "INBOX") return no("INBOX already exists", "ALREADYEXISTS");
    await ctx.user!.rename(from, to);
    return ok("RENAME completed");
  },
};
