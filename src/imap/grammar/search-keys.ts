// RFC 3501 §6.4.4 search program: optional CHARSET, then keys joined by an implicit AND.
import type { SearchKey, Token } from "../types";
import { ProtocolError } from "../tokenizer";
import { parseSequenceSet } from "./sequence-set";
import { parseSearchDate } from "./dates";

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ["\\Answered", true], UNANSWERED: ["\\Answered", false],
  DELETED: ["\\Deleted", true], UNDELETED: ["\\Deleted", false],
  DRAFT: ["\\Draft", true], UNDRAFT: ["\\Draft", false],
  FLAGGED: ["\\Flagged", true], UNFLAGGED: ["\\Flagged", false],
  SEEN: ["\\Seen", true], UNSEEN: ["\\Seen", false],
};
const HEADER_SHORTHANDS = new Set(["BCC", "CC", "FROM", "SUBJECT", "TO"]);
const DATE_KEYS = new Set(["BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"]);

function text(t: Token | undefined, what: string): string {
  if (t?.type === "string") return t.value.toString("utf8");
  if (t?.type === "atom") return t.value;
  // An astring: the bare word NIL is the three letters, not nil.
  if (t?.type === "nil") return "NIL";
  throw new ProtocolError(`SEARCH ${what} needs an argument`);
}

function number(t: Token | undefined, what: string): number {
  const s = text(t, what);
  if (!/^\d{1,10}$/.test(s) || Number(s) > 0xffffffff) throw new ProtocolError(`SEARCH ${what} needs a number`);
  return Number(s);
}

class KeyReader {
  i = 0;
  constructor(private readonly tokens: Token[]) {}
  done(): boolean { return this.i >= this.tokens.length; }
  next(): Token | undefined { return this.tokens[this.i++]; }

  key(depth: number): SearchKey {
    if (depth > 64) throw new ProtocolError("SEARCH program nested too deeply");
    const t = this.next();
    if (!t) throw new ProtocolError("SEARCH key missing");
    if (t.type === "list") {
      const inner = new KeyReader(t.items);
      const keys: SearchKey[] = [];
      while (!inner.done()) keys.push(inner.key(depth + 1));
      if (keys.length === 0) throw new ProtocolError("empty SEARCH group");
      return keys.length === 1 ? keys[0]! : { op: "AND", keys };
    }
    if (t.type !== "atom") throw new ProtocolError("SEARCH key expected");
    const v = t.value.toUpperCase();
    const flag = FLAG_KEYS[v];
    if (flag) return { op: "FLAG", flag: flag[0], present: flag[1] };
    if (HEADER_SHORTHANDS.has(v)) return { op: "HEADER", field: v, value: text(this.next(), v) };
    if (DATE_KEYS.has(v)) return { op: v as "ON", date: parseSearchDate(text(this.next(), v)) };
    switch (v) {
      case "ALL": return { op: "ALL" };
      case "NEW": return { op: "NEW" };
      case "OLD": return { op: "OLD" };
      case "RECENT": return { op: "RECENT" };
      case "KEYWORD": case "UNKEYWORD":
        return { op: "FLAG", flag: text(this.next(), v), present: v === "KEYWORD" };
      case "HEADER": {
        const field = text(this.next(), v);
        return { op: "HEADER", field: field.toUpperCase(), value: text(this.next(), v) };
      }
      case "BODY": case "TEXT": return { op: v, value: text(this.next(), v) };
      case "LARGER": case "SMALLER": return { op: v, size: number(this.next(), v) };
      case "UID": return { op: "UID", set: parseSequenceSet(text(this.next(), v)) };
      case "NOT": return { op: "NOT", key: this.key(depth + 1) };
      case "OR": {
        const left = this.key(depth + 1);
        return { op: "OR", left, right: this.key(depth + 1) };
      }
    }
    if (/^[\d*]/.test(v)) return { op: "SEQ", set: parseSequenceSet(v) };
    throw new ProtocolError(`unknown SEARCH key ${t.value}`);
  }
}

export function parseSearchProgram(tokens: Token[]): { charset?: string; key: SearchKey } {
  let start = 0;
  let charset: string | undefined;
  const first = tokens[0];
  if (first?.type === "atom" && first.value.toUpperCase() === "CHARSET") {
    charset = text(tokens[1], "CHARSET").toUpperCase();
    if (charset !== "UTF-8" && charset !== "US-ASCII") {
      const e = new ProtocolError(`charset ${charset} is not supported`);
      e.status = "NO";
      e.code = "BADCHARSET";
      e.responseCode = "BADCHARSET (UTF-8 US-ASCII)";
      throw e;
    }
    start = 2;
  }
  const reader = new KeyReader(tokens.slice(start));
  const keys: SearchKey[] = [];
  while (!reader.done()) keys.push(reader.key(0));
  if (keys.length === 0) throw new ProtocolError("SEARCH needs at least one key");
  const key: SearchKey = keys.length === 1 ? keys[0]! : { op: "AND", keys };
  return charset ? { charset, key } : { key };
}
