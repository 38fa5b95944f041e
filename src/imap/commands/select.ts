// SELECT and EXAMINE (RFC 3501 §6.3.1, §6.3.2). Selecting while selected
// closes the old mailbox first without reporting its expunges, so a failed
// SELECT leaves the session in the authenticated state.
import { AUTHENTICATED, ok, type CommandContext, type CommandSpec, type Reply } from "../dispatcher";
import { SelectedView } from "../selected-view";
import type { Token } from "../types";
import { expectCount, mailboxArg } from "./args";

async function open(ctx: CommandContext, name: string, readOnly: boolean): Promise<Reply> {
  ctx.deselect();
  const handle = await ctx.user!.open(name, readOnly);
  const view = SelectedView.open(handle);
  const flags = view.flagList().join(" ");
  ctx.untagged(`FLAGS (${flags})`);
  ctx.untagged(readOnly ? "OK [PERMANENTFLAGS ()] Read-only mailbox" : `OK [PERMANENTFLAGS (${flags} \\*)] Flags permitted`);
  ctx.untagged(`${view.exists} EXISTS`);
  ctx.untagged(`${view.recentCount} RECENT`);
  const firstUnseen = view.firstUnseen();
  if (firstUnseen > 0) ctx.untagged(`OK [UNSEEN ${firstUnseen}] First unseen`);
  ctx.untagged(`OK [UIDVALIDITY ${handle.uidValidity}] UIDs valid`);
  ctx.untagged(`OK [UIDNEXT ${handle.uidNext()}] Predicted next UID`);
  ctx.select(view);
  return readOnly ? ok("EXAMINE completed", "READ-ONLY") : ok("SELECT completed", "READ-WRITE");
}

function parse(args: Token[]): string {
  expectCount(args, 1, 1, "mailbox name");
  return mailboxArg(args[0]);
}

export const select: CommandSpec<string> = {
  name: "SELECT",
  deselectsFirst: true,
  states: AUTHENTICATED,
  parse,
  handle: (ctx, name) => open(ctx, name, false),
};

export const examine: CommandSpec<string> = {
  name: "EXAMINE",
  deselectsFirst: true,
  states: AUTHENTICATED,
  parse,
  handle: (ctx, name) => open(ctx, name, true),
};
