import type { Token } from "../types";
import { ProtocolError } from "../tokenizer";
export function parseFlagList(token: Token | Token[]): string[] {
  const items = Array.isArray(token) ? token : token.type === "list" ? token.items : [token];
  return items.map((t) => { if (t.type !== "atom") throw new ProtocolError("bad flag"); return t.value; });
}
