import type { Token } from "../types";
import { ProtocolError } from "../tokenizer";
export function astringValue(t: Token): string {
  if (t.type === "atom") return t.value;
  if (t.type === "string") return t.value.toString("utf8");
  throw new ProtocolError("Expected a string");
}
