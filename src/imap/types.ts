// The protocol layer's vocabulary: what the parser produces and what command
// handlers consume. Nothing here knows how or where mail is stored.

/** One range of a sequence set. `null` stands for `*` (the largest number in use). */
export interface SeqRange {
  from: number | null;
  to: number | null;
}

/** RFC 3501 sequence-set: ranges are kept as written; `2:4` and `4:2` mean the same. */
export type SequenceSet = SeqRange[];

/**
 * A generic parsed argument, before a command's grammar gives it meaning.
 * Atoms keep their raw text; strings (quoted or literal) are Buffers so that
 * 8-bit literal data survives untouched.
 */
export type Token =
  | { type: "atom"; value: string }
  | { type: "string"; value: Buffer; literal: boolean }
  | { type: "nil" }
  | { type: "list"; items: Token[] }
  /** `BODY[...]<...>`-style atoms carry their bracketed section verbatim. */
  | { type: "section"; atom: string; section: Token[]; partial?: { start: number; length: number } };

/** BODY[section] specifier (RFC 3501 section-spec). */
export interface SectionSpec {
  /** Part path, e.g. [1, 2] for `1.2`; empty for the top-level message. */
  part: number[];
  /** What of that part; undefined means the whole part's body (`BODY[1]`) or whole message (`BODY[]`). */
  text?: "HEADER" | "HEADER.FIELDS" | "HEADER.FIELDS.NOT" | "TEXT" | "MIME";
  /** Upper-cased field names for HEADER.FIELDS (NOT). */
  fields?: string[];
}

export type FetchAttribute =
  | { kind: "ENVELOPE" }
  | { kind: "FLAGS" }
  | { kind: "INTERNALDATE" }
  | { kind: "RFC822" }
  | { kind: "RFC822.HEADER" }
  | { kind: "RFC822.SIZE" }
  | { kind: "RFC822.TEXT" }
  | { kind: "BODY" }
  | { kind: "BODYSTRUCTURE" }
  | { kind: "UID" }
  | {
      kind: "BODY[]";
      section: SectionSpec;
      peek: boolean;
      partial?: { start: number; length: number };
    };

/** RFC 3501 §6.4.4 search keys, normalised. Strings are UTF-8 decoded. */
export type SearchKey =
  | { op: "ALL" }
  | { op: "AND"; keys: SearchKey[] }
  | { op: "OR"; left: SearchKey; right: SearchKey }
  | { op: "NOT"; key: SearchKey }
  | { op: "SEQ"; set: SequenceSet }
  | { op: "UID"; set: SequenceSet }
  /** System flags and keywords: ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, KEYWORD x, and their UN- forms. */
  | { op: "FLAG"; flag: string; present: boolean }
  | { op: "NEW" }
  | { op: "OLD" }
  | { op: "RECENT" }
  /** INTERNALDATE comparisons; date is "YYYY-MM-DD" (dates compare without time or zone). */
  | { op: "BEFORE" | "ON" | "SINCE"; date: string }
  /** Date: header comparisons. */
  | { op: "SENTBEFORE" | "SENTON" | "SENTSINCE"; date: string }
  | { op: "LARGER" | "SMALLER"; size: number }
  /** HEADER field value, and the shorthands BCC/CC/FROM/SUBJECT/TO map here with field set. */
  | { op: "HEADER"; field: string; value: string }
  | { op: "BODY" | "TEXT"; value: string };

export type StoreMode = "set" | "add" | "remove";

/** The command as the parser hands it over: tag, upper-cased name, raw arguments. */
export interface ParsedCommand {
  tag: string;
  /** Upper-cased command name; for `UID FETCH` this is "FETCH" and `uid` is true. */
  name: string;
  uid: boolean;
  args: Token[];
}

/** The four states of RFC 3501 §3. */
export type SessionState = "not-authenticated" | "authenticated" | "selected" | "logout";

/** A response code in brackets, e.g. `[APPENDUID 38505 3955]`. */
export type ResponseCode = string;
