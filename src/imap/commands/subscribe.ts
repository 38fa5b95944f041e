// SUBSCRIBE (RFC 3501 §6.3.6).
import { AUTHENTICATED, ok, type CommandSpec } from "../dispatcher";
import type { Token } from "../types";
import { expectCount, mailboxArg } from "./args";

export const subscribe: CommandSpec<string> = {
  name: "SUBSCRIBE",
  states: AUTHENTICATED,
  parse(args: Token[]) {
    expectCount(args, 1, 1, "mailbox name");
    return mailboxArg(args[0]);
  },
  async handle(ctx, name) {
    await ctx.user!.subscribe(name);
    return ok("SUBSCRIBE completed");
  },
};
