import type { SearchKey, Token } from "../types";
import { ProtocolError } from "../tokenizer";
import { parseSequenceSet } from "./sequence-set";
export function parseSearchProgram(tokens: Token[]): { charset?: string; key: SearchKey } {
  let i = 0;
  let charset: string | undefined;
  if (tokens[0]?.type === "atom" && tokens[0].value.toUpperCase() === "CHARSET") {
    const c = tokens[1]; charset = c?.type === "atom" ? c.value.toUpperCase() : c?.type === "string" ? c.value.toString().toUpperCase() : "";
    if (charset !== "UTF-8" && charset !== "US-ASCII") { const e = new ProtocolError("bad charset"); e.status = "NO"; e.responseCode = "BADCHARSET (UTF-8 US-ASCII)"; throw e; }
    i = 2;
  }
  const keys: SearchKey[] = [];
  const str = (t: Token | undefined) => (t?.type === "string" ? t.value.toString() : t?.type === "atom" ? t.value : "");
  while (i < tokens.length) {
    const t = tokens[i++]!;
    if (t.type !== "atom") throw new ProtocolError("bad key");
    const v = t.value.toUpperCase();
    if (v === "ALL") keys.push({ op: "ALL" });
    else if (v === "SEEN" || v === "UNSEEN") keys.push({ op: "FLAG", flag: "\\Seen", present: v === "SEEN" });
    else if (v === "SUBJECT") keys.push({ op: "HEADER", field: "SUBJECT", value: str(tokens[i++]) });
    else if (v === "UID") keys.push({ op: "UID", set: parseSequenceSet(str(tokens[i++])) });
    else if (/^[\d*]/.test(v)) keys.push({ op: "SEQ", set: parseSequenceSet(v) });
    else throw new ProtocolError("unsupported key in shim " + v);
  }
  return charset ? { charset, key: keys.length === 1 ? keys[0]! : { op: "AND", keys } } : { key: keys.length === 1 ? keys[0]! : { op: "AND", keys } };
}
