// CHECK (RFC 3501 §6.4.1): every op is already durable when acknowledged, so only updates remain.
import { ok, SELECTED, type CommandSpec } from "../dispatcher";
import { noArgs } from "./args";

export const check: CommandSpec<void> = {
  name: "CHECK",
  states: SELECTED,
  parse: noArgs,
  async handle() {
    return ok("CHECK completed");
  },
};
