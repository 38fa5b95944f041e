// UNSELECT (RFC 3691): like CLOSE without the expunge.
import { ok, SELECTED, type CommandSpec } from "../dispatcher";
import { noArgs } from "./args";

export const unselect: CommandSpec<void> = {
  name: "UNSELECT",
  states: SELECTED,
  updates: "none",
  parse: noArgs,
  async handle(ctx) {
    ctx.deselect();
    return ok("UNSELECT completed");
  },
};
