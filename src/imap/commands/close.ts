// CLOSE (RFC 3501 §6.4.2): silently expunges \Deleted messages of a read-write mailbox.
import { ok, SELECTED, type CommandSpec } from "../dispatcher";
import { noArgs } from "./args";

export const close: CommandSpec<void> = {
  name: "CLOSE",
  states: SELECTED,
  updates: "none",
  parse: noArgs,
  async handle(ctx) {
    const view = ctx.view!;
    if (!view.readOnly) {
      try {
        await view.handle.expunge();
      } catch (err) {
        // The session is unselected either way; the messages stay until a later EXPUNGE.
        ctx.log.warn({ err }, "CLOSE could not expunge");
      }
    }
    // Closing the view drops the removals it just heard of: CLOSE reports none.
    ctx.deselect();
    return ok("CLOSE completed");
  },
};
