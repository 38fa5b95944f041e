// IDLE (RFC 2177): changes are pushed as they happen until the client's DONE.
import { AUTHENTICATED, bad, ok, type CommandSpec } from "../dispatcher";
import { noArgs } from "./args";

export const idle: CommandSpec<void> = {
  name: "IDLE",
  states: AUTHENTICATED,
  parse: noArgs,
  async handle(ctx) {
    ctx.continuation("idling");
    ctx.startIdle();
    let line: string | null;
    try {
      line = await ctx.readLine();
    } finally {
      ctx.stopIdle();
    }
    if (line === null) return bad("Connection closed");
    if (line.trim().toUpperCase() !== "DONE") return bad("Expected DONE to end IDLE");
    return ok("IDLE terminated");
  },
};
