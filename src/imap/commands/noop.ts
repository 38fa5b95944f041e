// NOOP (RFC 3501 §6.1.2): its point is the pending mailbox updates the dispatcher sends.
import { ANY_STATE, ok, type CommandSpec } from "../dispatcher";
import { noArgs } from "./args";

export const noop: CommandSpec<void> = {
  name: "NOOP",
  states: ANY_STATE,
  parse: noArgs,
  async handle() {
    return ok("NOOP completed");
  },
};
