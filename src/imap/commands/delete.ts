// DELETE (RFC 3501 §6.3.4). Deleting the selected mailbox first unselects it,
// so the session is not disconnected by its own change.
import { AUTHENTICATED, no, ok, type CommandSpec } from "../dispatcher";
import type { UserStore } from "../store-port";
import type { Token } from "../types";
import { expectCount, mailboxArg } from "./args";

export const del: CommandSpec<string> = {
  name: "DELETE",
  states: AUTHENTICATED,
  parse(args: Token[]) {
    expectCount(args, 1, 1, "mailbox name");
    return mailboxArg(args[0]);
  },
  async handle(ctx, name) {
    if (name === "INBOX") return no("INBOX cannot be deleted", "CANNOT");
    const user = ctx.user!;
    const target = user.info(name);
    const view = ctx.view;
    // Its own DELETE must not end the session the way another session's would (BYE).
    if (target && view && (view.handle.name === target.name || sameMailbox(user, name, view.handle.uidValidity))) {
      ctx.deselect();
    }
    await user.delete(name);
    return ok("DELETE completed");
  },
};

/** The selected mailbox may have been renamed since it was opened; UIDVALIDITY still identifies it. */
function sameMailbox(user: UserStore, name: string, uidValidity: number): boolean {
  try {
    return user.status(name).uidValidity === uidValidity;
  } catch {
    return false;
  }
}
