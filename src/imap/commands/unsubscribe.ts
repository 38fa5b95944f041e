// UNSUBSCRIBE (RFC 3501 §6.3.7).
import { AUTHENTICATED, ok, type CommandSpec } from "../dispatcher";
import type { Token } from "../types";
import { expectCount, mailboxArg } from "./args";

export const unsubscribe: CommandSpec<string> = {
  name: "UNSUBSCRIBE",
  states: AUTHENTICATED,
  parse(args: Token[]) {
    expectCount(args, 1, 1, "mailbox name");
    return mailboxArg(args[0]);
  },
  async handle(ctx, name) {
    await ctx.user!.unsubscribe(name);
    return ok("UNSUBSCRIBE completed");
  },
};
