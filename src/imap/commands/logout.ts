// LOGOUT (RFC 3501 §6.1.3): BYE, tagged OK, then the connection closes.
import { ANY_STATE, ok, type CommandSpec } from "../dispatcher";
import { noArgs } from "./args";

export const logout: CommandSpec<void> = {
  name: "LOGOUT",
  states: ANY_STATE,
  updates: "none",
  parse: noArgs,
  async handle(ctx) {
    ctx.untagged("BYE Logging out");
    ctx.logout();
    return { ...ok("LOGOUT completed"), after: () => ctx.closeConnection() };
  },
};
