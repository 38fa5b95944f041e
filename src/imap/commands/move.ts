// MOVE and UID MOVE (RFC 6851): `* OK [COPYUID ...]`, the EXPUNGEs, then the tagged OK.
import { no, ok, SELECTED, type CommandSpec } from "../dispatcher";
import { resolveSet } from "./args";
import { copyUidCode, parseTransfer, transfer, type TransferArgs } from "./copy";

export const move: CommandSpec<TransferArgs> = {
  name: "MOVE",
  states: SELECTED,
  uid: true,
  parse: parseTransfer,
  async handle(ctx, a) {
    const view = ctx.view!;
    if (view.readOnly) return no("Mailbox is read-only");
    const uids = resolveSet(view, a.set, a.uid).filter((u) => !view.isExpunged(u));
    if (uids.length === 0 && !ctx.user!.info(a.mailbox)) return no("Destination mailbox does not exist", "TRYCREATE");
    if (uids.length === 0) return ok("MOVE completed");
    const r = await transfer(ctx, uids, a.mailbox, true);
    if ("status" in r) return r;
    const code = copyUidCode(r);
    if (code) ctx.untagged(`OK [${code}] Moved`);
    view.expungeOwn(
      r.pairs.map((p) => p[0]),
      (line) => ctx.untagged(line),
    );
    if (r.pairs.length < uids.length) return no("Some of the messages no longer exist", "EXPUNGEISSUED");
    return ok("MOVE completed");
  },
};
