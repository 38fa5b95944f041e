// COPY and UID COPY (RFC 3501 §6.4.7) with COPYUID (RFC 4315).
import { no, ok, SELECTED, type CommandContext, type CommandSpec, type Reply } from "../dispatcher";
import { StoreError, type CopyResult } from "../store-port";
import { ProtocolError } from "../tokenizer";
import type { SequenceSet, Token } from "../types";
import { formatUidSet, mailboxArg, resolveSet, sequenceSetArg } from "./args";

export interface TransferArgs {
  set: SequenceSet;
  mailbox: string;
  uid: boolean;
}

export function parseTransfer(args: Token[], uid: boolean): TransferArgs {
  if (args.length !== 2) throw new ProtocolError("Expected sequence set and mailbox name");
  return { set: sequenceSetArg(args[0]), mailbox: mailboxArg(args[1]), uid };
}

export function copyUidCode(r: CopyResult): string | undefined {
  if (r.pairs.length === 0) return undefined;
  return `COPYUID ${r.uidValidity} ${formatUidSet(r.pairs.map((p) => p[0]))} ${formatUidSet(r.pairs.map((p) => p[1]))}`;
}

/** Runs a COPY or MOVE, mapping a missing destination to NO [TRYCREATE]. */
export async function transfer(
  ctx: CommandContext,
  uids: number[],
  mailbox: string,
  move: boolean,
): Promise<CopyResult | Reply> {
  const handle = ctx.view!.handle;
  try {
    return move ? await handle.move(uids, mailbox) : await handle.copy(uids, mailbox);
  } catch (err) {
    if (err instanceof StoreError && err.code === "NONEXISTENT" && !ctx.user!.info(mailbox)) {
      return no("Destination mailbox does not exist", "TRYCREATE");
    }
    throw err;
  }
}

export const copy: CommandSpec<TransferArgs> = {
  name: "COPY",
  states: SELECTED,
  uid: true,
  parse: parseTransfer,
  async handle(ctx, a) {
    const view = ctx.view!;
    const uids = resolveSet(view, a.set, a.uid).filter((u) => !view.isExpunged(u));
    if (uids.length === 0 && !ctx.user!.info(a.mailbox)) return no("Destination mailbox does not exist", "TRYCREATE");
    if (uids.length === 0) return ok("COPY completed");
    const r = await transfer(ctx, uids, a.mailbox, false);
    if ("status" in r) return r;
    if (r.pairs.length < uids.length) {
      return no("Some of the messages no longer exist", "EXPUNGEISSUED");
    }
    return ok("COPY completed", copyUidCode(r));
  },
};
