import type { FetchAttribute, Token, SectionSpec } from "../types";
import { ProtocolError } from "../tokenizer";
export function parseFetchAttributes(tokens: Token[]): FetchAttribute[] {
  const list = tokens.length === 1 && tokens[0]!.type === "list" ? tokens[0]!.items : tokens;
  const out: FetchAttribute[] = [];
  for (const t of list) {
    if (t.type === "atom") {
      const v = t.value.toUpperCase();
      if (v === "ALL") out.push({ kind: "FLAGS" }, { kind: "INTERNALDATE" }, { kind: "RFC822.SIZE" }, { kind: "ENVELOPE" });
      else if (v === "FAST") out.push({ kind: "FLAGS" }, { kind: "INTERNALDATE" }, { kind: "RFC822.SIZE" });
      else if (["ENVELOPE","FLAGS","INTERNALDATE","RFC822","RFC822.HEADER","RFC822.SIZE","RFC822.TEXT","BODY","BODYSTRUCTURE","UID"].includes(v)) out.push({ kind: v } as FetchAttribute);
      else throw new ProtocolError("bad fetch att " + v);
    } else if (t.type === "section") {
      const spec: SectionSpec = { part: [] };
      const first = t.section[0];
      if (first && first.type === "atom") {
        const parts = first.value.toUpperCase().split(".");
        while (parts.length && /^\d+$/.test(parts[0]!)) spec.part.push(Number(parts.shift()));
        if (parts.length) spec.text = parts.join(".") as SectionSpec["text"];
      }
      const l = t.section[1];
      if (l && l.type === "list") spec.fields = l.items.map((x) => (x.type === "atom" ? x.value : x.type === "string" ? x.value.toString() : "").toUpperCase());
      const a: FetchAttribute = { kind: "BODY[]", section: spec, peek: t.atom.toUpperCase() === "BODY.PEEK" };
      if (t.partial) (a as { partial?: unknown }).partial = t.partial;
      out.push(a);
    } else throw new ProtocolError("bad fetch att");
  }
  return out;
}
