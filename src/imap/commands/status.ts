// STATUS (RFC 3501 §6.3.10); allowed on the selected mailbox too.
import { AUTHENTICATED, ok, type CommandSpec } from "../dispatcher";
import { encodeMailboxName } from "../grammar/mailbox-name";
import type { MailboxStatus } from "../store-port";
import { ProtocolError } from "../tokenizer";
import type { Token } from "../types";
import { encodeValue } from "../writer";
import { expectCount, mailboxArg } from "./args";

const ITEMS: Record<string, keyof MailboxStatus> = {
  MESSAGES: "messages",
  RECENT: "recent",
  UIDNEXT: "uidNext",
  UIDVALIDITY: "uidValidity",
  UNSEEN: "unseen",
};

export const status: CommandSpec<{ name: string; items: string[] }> = {
  name: "STATUS",
  states: AUTHENTICATED,
  parse(args: Token[]) {
    expectCount(args, 2, 2, "mailbox name and status items");
    const name = mailboxArg(args[0]);
    const list = args[1]!;
    if (list.type !== "list" || list.items.length === 0) throw new ProtocolError("Expected a list of status items");
    const items = list.items.map((t) => {
      const item = t.type === "atom" ? t.value.toUpperCase() : "";
      if (!(item in ITEMS)) throw new ProtocolError(`Unknown status item ${t.type === "atom" ? t.value.slice(0, 20) : ""}`);
      return item;
    });
    return { name, items };
  },
  async handle(ctx, { name, items }) {
    const s = ctx.user!.status(name);
    const info = ctx.user!.info(name);
    const values = items.map((i) => `${i} ${s[ITEMS[i]!]}`).join(" ");
    ctx.untagged(
      Buffer.concat([Buffer.from("STATUS "), encodeValue(encodeMailboxName(info?.name ?? name)), Buffer.from(` (${values})`)]),
    );
    return ok("STATUS completed");
  },
};
