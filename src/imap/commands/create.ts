// CREATE (RFC 3501 §6.3.3). A trailing separator only declares intent to
// create children; the store creates the superior names that are needed.
import { AUTHENTICATED, no, ok, type CommandSpec } from "../dispatcher";
import type { Token } from "../types";
import { expectCount, mailboxArg } from "./args";

export const create: CommandSpec<string> = {
  name: "CREATE",
  states: AUTHENTICATED,
  parse(args: Token[]) {
    expectCount(args, 1, 1, "mailbox name");
    return mailboxArg(args[0]).replace(/\/+$/, "");
  },
  async handle(ctx, name) {
    if (name === "") return no("Mailbox name is empty", "CANNOT");
    if (name.toUpperCase() === "INBOX") return no("INBOX always exists", "ALREADYEXISTS");
    await ctx.user!.create(name);
    return ok("CREATE completed");
  },
};
