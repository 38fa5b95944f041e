// ID (RFC 2971): the client's fields are only checked for shape; ours are fixed.
import { ANY_STATE, ok, type CommandSpec } from "../dispatcher";
import { ProtocolError } from "../tokenizer";
import type { Token } from "../types";
import { expectCount } from "./args";

const SERVER_ID = '("name" "charon" "vendor" "charon" "version" "0.1.0")';

export const id: CommandSpec<void> = {
  name: "ID",
  states: ANY_STATE,
  parse(args: Token[]) {
    expectCount(args, 1, 1, "NIL or a list of field/value pairs");
    const a = args[0]!;
    if (a.type === "nil") return;
    if (a.type !== "list") throw new ProtocolError("ID expects NIL or a parenthesised list");
    // RFC 2971 §3.3: at most 30 pairs, fields are strings, values strings or NIL.
    if (a.items.length % 2 !== 0 || a.items.length > 60) throw new ProtocolError("ID list must hold up to 30 field/value pairs");
    a.items.forEach((t, i) => {
      const okField = t.type === "string";
      const okValue = t.type === "string" || t.type === "nil";
      if (i % 2 === 0 ? !okField : !okValue) throw new ProtocolError("ID fields are strings, values strings or NIL");
    });
  },
  async handle(ctx) {
    ctx.untagged(`ID ${SERVER_ID}`);
    return ok("ID completed");
  },
};
