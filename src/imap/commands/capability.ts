// CAPABILITY (RFC 3501 §6.1.1).
import { ANY_STATE, ok, type CommandSpec } from "../dispatcher";
import { noArgs } from "./args";

export const capability: CommandSpec<void> = {
  name: "CAPABILITY",
  states: ANY_STATE,
  parse: noArgs,
  async handle(ctx) {
    ctx.untagged(`CAPABILITY ${ctx.capabilities().join(" ")}`);
    return ok("CAPABILITY completed");
  },
};
