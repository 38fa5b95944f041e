// LIST (RFC 3501 §6.3.8) with CHILDREN (RFC 3348) and SPECIAL-USE (RFC 6154) attributes.
import { AUTHENTICATED, ok, type CommandSpec } from "../dispatcher";
import type { Token } from "../types";
import {
  canonicalPattern,
  impliedParents,
  listLine,
  MailboxPattern,
  mailboxOrder,
  parseListArgs,
  SEPARATOR,
} from "./mailbox-pattern";

export const list: CommandSpec<{ reference: string; pattern: string }> = {
  name: "LIST",
  states: AUTHENTICATED,
  parse: (args: Token[]) => parseListArgs(args),
  async handle(ctx, { reference, pattern }) {
    if (pattern === "") {
      // The hierarchy delimiter and root name (RFC 3501 §6.3.8).
      ctx.untagged(`LIST (\\Noselect) "${SEPARATOR}" ""`);
      return ok("LIST completed");
    }
    const match = new MailboxPattern(canonicalPattern(reference, pattern));
    const boxes = ctx.user!.list();
    const names = boxes.map((b) => b.name);
    const hasChildren = (name: string) => names.some((n) => n.startsWith(name + SEPARATOR));
    const lines: Array<{ name: string; attrs: string[] }> = [];
    for (const b of boxes) {
      if (!match.matches(b.name)) continue;
      const attrs = [hasChildren(b.name) ? "\\HasChildren" : "\\HasNoChildren"];
      if (b.specialUse) attrs.push(b.specialUse);
      lines.push({ name: b.name, attrs });
    }
    if (match.endsWithPercent) {
      for (const p of impliedParents(names)) {
        if (match.matches(p)) lines.push({ name: p, attrs: ["\\Noselect", "\\HasChildren"] });
      }
    }
    lines.sort((a, b) => mailboxOrder(a.name, b.name));
    for (const l of lines) ctx.untagged(listLine("LIST", l.attrs, l.name));
    return ok("LIST completed");
  },
};
