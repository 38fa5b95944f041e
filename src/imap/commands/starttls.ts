// STARTTLS (RFC 3501 §6.2.1). The tagged OK goes out in plaintext, then the
// session drops anything the client pipelined after the command (the
// CVE-2011-0411 injection) and the transport is upgraded.
import { NOT_AUTHENTICATED, bad, ok, type CommandSpec } from "../dispatcher";
import { noArgs } from "./args";

export const starttls: CommandSpec<void> = {
  name: "STARTTLS",
  states: NOT_AUTHENTICATED,
  parse: noArgs,
  async handle(ctx) {
    if (!ctx.canStartTls()) return bad(ctx.secure ? "TLS is already active" : "STARTTLS is not available");
    return { ...ok("Begin TLS negotiation now"), after: () => ctx.upgradeTls() };
  },
};
