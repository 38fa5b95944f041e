// RFC 3501 §9 FETCH data items (RFC 9051 compatible subset; BINARY is not advertised):
//
//   fetch        = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
//                  fetch-att / "(" fetch-att *(SP fetch-att) ")")
//   fetch-att    = "ENVELOPE" / "FLAGS" / "INTERNALDATE" /
//                  "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] /
//                  "BODY" ["STRUCTURE"] / "UID" /
//                  "BODY" section ["<" number "." nz-number ">"] /
//                  "BODY.PEEK" section ["<" number "." nz-number ">"]
//   section      = "[" [section-spec] "]"
//   section-spec = section-msgtext / (section-part ["." section-text])
//   section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
//   section-part = nz-number *("." nz-number)
//   section-text = section-msgtext / "MIME"
//   header-list  = "(" header-fld-name *(SP header-fld-name) ")"
//   header-fld-name = astring          ; and RFC 5322 field-name (1*ftext), else BAD
//
// Macros (ALL, FAST, FULL) stand alone; inside a parenthesised list they are a
// syntax error. Everything invalid is a ProtocolError (tagged BAD).
import type { FetchAttribute, SectionSpec, Token } from "../types";
import { ProtocolError } from "../tokenizer";
import { isAstringAtom, parseNzNumber } from "./tokens";

const SIMPLE = new Set([
  "ENVELOPE",
  "FLAGS",
  "INTERNALDATE",
  "RFC822",
  "RFC822.HEADER",
  "RFC822.SIZE",
  "RFC822.TEXT",
  "BODY",
  "BODYSTRUCTURE",
  "UID",
]);

const MACROS: Record<string, readonly FetchAttribute["kind"][]> = {
  ALL: ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
  FAST: ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
  FULL: ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
};

/** More BODY[...] items than this in one FETCH is refused (each one is a response item per message). */
export const MAX_FETCH_ATTRIBUTES = 256;
/** Deepest section part path accepted (`1.2.3...`). */
export const MAX_PART_DEPTH = 64;

/**
 * The data items of a FETCH: `tokens` are the command arguments after the
 * sequence set. Exactly one argument is allowed: a macro, a single fetch-att,
 * or a non-empty parenthesised list of fetch-atts.
 */
export function parseFetchAttributes(tokens: Token[]): FetchAttribute[] {
  if (tokens.length === 0) throw new ProtocolError("Missing fetch attributes");
  if (tokens.length > 1) {
    throw new ProtocolError("Fetch attributes must be one item or a parenthesised list");
  }
  const only = tokens[0]!;
  if (only.type === "list") {
    if (only.items.length === 0) throw new ProtocolError("Empty fetch attribute list");
    if (only.items.length > MAX_FETCH_ATTRIBUTES) throw new ProtocolError("Too many fetch attributes");
    return only.items.map((t) => parseFetchAtt(t, true));
  }
  if (only.type === "atom") {
    const macro = MACROS[only.value.toUpperCase()];
    if (macro) return macro.map((kind) => ({ kind }) as FetchAttribute);
  }
  return [parseFetchAtt(only, false)];
}

function parseFetchAtt(t: Token, inList: boolean): FetchAttribute {
  if (t.type === "atom") {
    const v = t.value.toUpperCase();
    if (SIMPLE.has(v)) return { kind: v } as FetchAttribute;
    if (MACROS[v]) {
      throw new ProtocolError(inList ? `${v} is a macro and cannot appear in a list` : `Unknown fetch attribute ${v}`);
    }
    throw new ProtocolError(`Unknown fetch attribute ${t.value.slice(0, 40)}`);
  }
  if (t.type === "section") {
    const atom = t.atom.toUpperCase();
    if (atom !== "BODY" && atom !== "BODY.PEEK") throw new ProtocolError(`Unsupported fetch attribute ${t.atom}[]`);
    const a: FetchAttribute = { kind: "BODY[]", section: parseSectionSpec(t.section), peek: atom === "BODY.PEEK" };
    if (t.partial) {
      if (!Number.isInteger(t.partial.start) || t.partial.start < 0 || !(t.partial.length > 0)) {
        throw new ProtocolError("Invalid partial");
      }
      a.partial = { start: t.partial.start, length: t.partial.length };
    }
    return a;
  }
  if (t.type === "list") throw new ProtocolError("Nested lists are not fetch attributes");
  throw new ProtocolError("Fetch attributes must be atoms");
}

const MSGTEXT = new Set(["HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"]);

/**
 * The words inside `BODY[...]` as the tokenizer delivers them: nothing, one
 * atom (`1.2.HEADER`, `TEXT`), or an atom and a header list
 * (`HEADER.FIELDS (From To)`).
 */
export function parseSectionSpec(section: Token[]): SectionSpec {
  const spec: SectionSpec = { part: [] };
  if (section.length === 0) return spec;
  const [first, list, ...extra] = section;
  if (first!.type !== "atom") throw new ProtocolError("Invalid section");
  if (extra.length > 0) throw new ProtocolError("Unexpected data in section");

  const words = first.value.split(".");
  let i = 0;
  while (i < words.length && /^[0-9]/.test(words[i]!)) {
    spec.part.push(parseNzNumber(words[i]!, "section part number"));
    i++;
  }
  if (spec.part.length > MAX_PART_DEPTH) throw new ProtocolError("Section part path too deep");
  const textWords = words.slice(i);
  if (textWords.some((w) => w === "")) throw new ProtocolError(`Invalid section ${first.value.slice(0, 40)}`);
  const text = textWords.join(".").toUpperCase();

  if (text !== "") {
    if (text === "MIME") {
      if (spec.part.length === 0) throw new ProtocolError("MIME needs a part number");
    } else if (!MSGTEXT.has(text)) {
      throw new ProtocolError(`Unknown section ${first.value.slice(0, 40)}`);
    }
    spec.text = text as SectionSpec["text"];
  }

  const needsList = text === "HEADER.FIELDS" || text === "HEADER.FIELDS.NOT";
  if (needsList) {
    if (!list) throw new ProtocolError(`${text} needs a list of header field names`);
    spec.fields = headerList(list);
  } else if (list) {
    throw new ProtocolError("Unexpected data in section");
  }
  return spec;
}

function headerList(t: Token): string[] {
  if (t.type !== "list") throw new ProtocolError("Expected a list of header field names");
  if (t.items.length === 0) throw new ProtocolError("Header field list must not be empty");
  return t.items.map((item) => {
    let name: string;
    if (item.type === "string") name = item.value.toString("utf8");
    else if (item.type === "nil") name = "NIL";
    else if (item.type === "atom") {
      if (!isAstringAtom(item.value)) throw new ProtocolError(`Invalid header field name ${item.value.slice(0, 40)}`);
      name = item.value;
    } else throw new ProtocolError("Header field names must be strings");
    // RFC 5322 field-name = 1*ftext (printable US-ASCII but ":"). Anything else could never
    // match a header, and the name is echoed in the FETCH response, so it must stay one line.
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) throw new ProtocolError("Invalid header field name");
    return name.toUpperCase();
  });
}
