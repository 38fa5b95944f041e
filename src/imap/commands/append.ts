// APPEND (RFC 3501 §6.3.11) with UIDPLUS's APPENDUID (RFC 4315).
import { AUTHENTICATED, no, ok, type CommandSpec } from "../dispatcher";
import { parseDateTime } from "../grammar/dates";
import { parseFlagList } from "../grammar/flags";
import { StoreError } from "../store-port";
import { ProtocolError } from "../tokenizer";
import type { Token } from "../types";
import { mailboxArg } from "./args";

export interface AppendArgs {
  mailbox: string;
  flags: string[];
  date?: number;
  message: Buffer;
}

export function rejectRecent(flags: string[]): string[] {
  if (flags.some((f) => f.toLowerCase() === "\\recent")) throw new ProtocolError("\\Recent cannot be set by a client");
  return flags;
}

export const append: CommandSpec<AppendArgs> = {
  name: "APPEND",
  states: AUTHENTICATED,
  parse(args: Token[]) {
    if (args.length < 2 || args.length > 4) throw new ProtocolError("Expected mailbox, [flags], [date-time] and message literal");
    const mailbox = mailboxArg(args[0]);
    let i = 1;
    let flags: string[] = [];
    if (args[i]?.type === "list") flags = rejectRecent(parseFlagList(args[i++]!));
    let date: number | undefined;
    const d = args[i];
    if (i < args.length - 1 && d?.type === "string" && !d.literal) {
      date = parseDateTime(d.value.toString("latin1"));
      i++;
    }
    const msg = args[i];
    if (!msg || msg.type !== "string" || !msg.literal || i !== args.length - 1) {
      throw new ProtocolError("Expected the message as a literal");
    }
    const out: AppendArgs = { mailbox, flags, message: msg.value };
    if (date !== undefined) out.date = date;
    return out;
  },
  async handle(ctx, a) {
    if (a.message.length > ctx.maxAppendSize) {
      return no(`Message exceeds the maximum size of ${ctx.maxAppendSize} octets`, "TOOBIG");
    }
    let res: { uidValidity: number; uid: number };
    try {
      res = await ctx.user!.append(a.mailbox, a.message, a.flags, a.date);
    } catch (err) {
      if (err instanceof StoreError && err.code === "NONEXISTENT") return no("Mailbox does not exist", "TRYCREATE");
      throw err;
    }
    // RFC 3501: the client should learn of the new message in the selected mailbox right away.
    ctx.view?.catchUp();
    return ok("APPEND completed", `APPENDUID ${res.uidValidity} ${res.uid}`);
  },
};
