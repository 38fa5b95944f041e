// ENABLE (RFC 5161). No extension charon offers needs enabling yet, so the
// answer is always an empty ENABLED; IMAP4rev2 and CONDSTORE are not offered.
import { ok, type CommandSpec } from "../dispatcher";
import { ProtocolError } from "../tokenizer";
import type { Token } from "../types";

export const enable: CommandSpec<string[]> = {
  name: "ENABLE",
  // RFC 5161 §3.1: only before a mailbox is selected.
  states: ["authenticated"],
  parse(args: Token[]) {
    if (args.length === 0) throw new ProtocolError("ENABLE needs at least one capability");
    return args.map((t) => {
      if (t.type !== "atom") throw new ProtocolError("Capability names are atoms");
      return t.value.toUpperCase();
    });
  },
  async handle(ctx) {
    ctx.untagged("ENABLED");
    return ok("ENABLE completed");
  },
};
