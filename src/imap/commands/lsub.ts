// LSUB (RFC 3501 §6.3.9): subscribed names, existing or not; a `%` that stops
// at an unsubscribed superior returns it with \Noselect.
import { AUTHENTICATED, ok, type CommandSpec } from "../dispatcher";
import type { Token } from "../types";
import { canonicalPattern, listLine, MailboxPattern, mailboxOrder, parseListArgs, SEPARATOR } from "./mailbox-pattern";

export const lsub: CommandSpec<{ reference: string; pattern: string }> = {
  name: "LSUB",
  states: AUTHENTICATED,
  parse: (args: Token[]) => parseListArgs(args),
  async handle(ctx, { reference, pattern }) {
    if (pattern === "") {
      ctx.untagged(`LSUB (\\Noselect) "${SEPARATOR}" ""`);
      return ok("LSUB completed");
    }
    const match = new MailboxPattern(canonicalPattern(reference, pattern));
    const subscribed = new Set(ctx.user!.subscriptions());
    const out = new Map<string, string[]>();
    for (const name of subscribed) {
      if (match.matches(name)) {
        out.set(name, []);
        continue;
      }
      if (!match.endsWithPercent) continue;
      const parts = name.split(SEPARATOR);
      for (let i = parts.length - 1; i >= 1; i--) {
        const parent = parts.slice(0, i).join(SEPARATOR);
        if (match.matches(parent)) {
          if (!subscribed.has(parent) && !out.has(parent)) out.set(parent, ["\\Noselect"]);
          break;
        }
      }
    }
    for (const name of [...out.keys()].sort(mailboxOrder)) ctx.untagged(listLine("LSUB", out.get(name)!, name));
    return ok("LSUB completed");
  },
};
