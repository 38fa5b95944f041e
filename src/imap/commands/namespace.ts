// NAMESPACE (RFC 2342): one personal namespace with "/" as the separator.
import { AUTHENTICATED, ok, type CommandSpec } from "../dispatcher";
import { noArgs } from "./args";

export const namespace: CommandSpec<void> = {
  name: "NAMESPACE",
  states: AUTHENTICATED,
  parse: noArgs,
  async handle(ctx) {
    ctx.untagged('NAMESPACE (("" "/")) NIL NIL');
    return ok("NAMESPACE completed");
  },
};
