// RFC 5322 address lists → RFC 3501 address structures. No address parser is
// installed, so this is a small tokenizer plus the grammar's few productions.
// Values stay as sent: encoded-words are not decoded (RFC 3501 §7.4.2).

import { ADJACENT, type Sexp } from "./types";

type Token = (
  | { kind: "word"; text: string; quoted: boolean }
  | { kind: "literal"; text: string }
  | { kind: "special"; text: string }
  | { kind: "comment"; text: string }
) & { spaced?: boolean };

const SPECIALS = new Set(["<", ">", "@", ",", ";", ":", "."]);
// A mailbox without a domain still needs a non-NIL host: NIL host marks group syntax.
const MISSING_DOMAIN = "MISSING_DOMAIN";
const MISSING_MAILBOX = "MISSING_MAILBOX";

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let spaced = false;
  const push = (t: Token): void => {
    // Whether white space came first decides how display-name words are joined.
    if (spaced) t.spaced = true;
    spaced = false;
    out.push(t);
  };
  while (i < s.length) {
    const c = s[i]!;
    if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      spaced = true;
      i++;
    } else if (c === "(") {
      let depth = 0;
      let text = "";
      for (; i < s.length; i++) {
        const d = s[i]!;
        if (d === "\\" && i + 1 < s.length) {
          text += s[++i];
          continue;
        }
        if (d === "(" && depth++ === 0) continue;
        if (d === ")" && --depth === 0) {
          i++;
          break;
        }
        text += d;
      }
      push({ kind: "comment", text: text.trim() });
      spaced = true;
    } else if (c === '"') {
      let text = "";
      for (i++; i < s.length && s[i] !== '"'; i++) {
        if (s[i] === "\\" && i + 1 < s.length) i++;
        text += s[i];
      }
      i++;
      push({ kind: "word", text, quoted: true });
    } else if (c === "[") {
      const close = s.indexOf("]", i);
      const end = close < 0 ? s.length : close + 1;
      push({ kind: "literal", text: s.slice(i, end) });
      i = end;
    } else if (SPECIALS.has(c)) {
      push({ kind: "special", text: c });
      i++;
    } else {
      let j = i;
      while (j < s.length && !/[\s()"[\]<>@,;:.]/.test(s[j]!)) j++;
      if (j === i) j++; // a stray ")" or "]" becomes a word of its own
      push({ kind: "word", text: s.slice(i, j), quoted: false });
      i = j;
    }
  }
  return out;
}

function isSpecial(t: Token | undefined, text: string): boolean {
  return t !== undefined && t.kind === "special" && t.text === text;
}

/** Display-name words joined by single spaces, the way RFC 5322 phrases read. */
function phraseText(words: Token[]): string | null {
  // Runs of white space become one space; words written together (obs-phrase "a.b") stay together.
  let text = "";
  for (const w of words) {
    if (w.kind === "comment") continue;
    text += (text !== "" && w.spaced ? " " : "") + w.text;
  }
  text = text.trim();
  return text === "" ? null : text;
}

/** dot-atom / quoted local parts and domains are written without the spaces around their dots. */
function joinTight(tokens: Token[]): string {
  return tokens
    .filter((t) => t.kind !== "comment")
    .map((t) => t.text)
    .join("");
}

class AddressParser {
  private pos = 0;
  readonly out: Sexp[] = [];
  private lastComment: string | null = null;

  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  /** Takes tokens up to (not including) one of the stop specials, remembering comments. */
  private until(stops: string[]): Token[] {
    const taken: Token[] = [];
    for (let t = this.peek(); t !== undefined; t = this.peek()) {
      if (t.kind === "special" && stops.includes(t.text)) break;
      if (t.kind === "comment") this.lastComment = t.text === "" ? this.lastComment : t.text;
      else taken.push(t);
      this.pos++;
    }
    return taken;
  }

  parse(): Sexp[] {
    let inGroup = false;
    while (this.pos < this.tokens.length) {
      this.lastComment = null;
      const words = this.until(["<", ":", "@", ",", ";"]);
      const stop = this.peek();
      if (isSpecial(stop, ":") && !inGroup) {
        this.pos++;
        this.out.push([null, null, phraseText(words) ?? "", null]);
        inGroup = true;
        continue;
      }
      if (isSpecial(stop, ":")) {
        this.pos++; // a second ":" inside a group is noise
        continue;
      }
      if (isSpecial(stop, "<")) {
        this.pos++;
        this.angleAddress(phraseText(words));
      } else if (isSpecial(stop, "@")) {
        this.pos++;
        const domain = this.until([",", ";", ">"]);
        if (isSpecial(this.peek(), ">")) this.pos++;
        this.pushMailbox(this.lastComment, null, joinTight(words), joinTight(domain));
        this.until([",", ";"]);
      } else if (words.length > 0) {
        this.pushMailbox(this.lastComment, null, joinTight(words), "");
      }
      const sep = this.peek();
      if (isSpecial(sep, ";")) {
        if (inGroup) this.out.push([null, null, null, null]);
        inGroup = false;
      }
      if (sep !== undefined) this.pos++;
    }
    if (inGroup) this.out.push([null, null, null, null]);
    return this.out;
  }

  private angleAddress(name: string | null): void {
    // A comment inside the brackets is not a display name; one before them stands in for a missing phrase.
    const before = this.lastComment;
    let adl: string | null = null;
    if (isSpecial(this.peek(), "@")) {
      const start = this.pos;
      const route = this.until([":", ">"]);
      if (isSpecial(this.peek(), ":")) {
        this.pos++;
        adl = route.map((t) => t.text).join("");
      } else {
        this.pos = start; // not a route after all
      }
    }
    const local = this.until(["@", ">", ",", ";"]);
    let domain: Token[] = [];
    if (isSpecial(this.peek(), "@")) {
      this.pos++;
      domain = this.until([">", ",", ";"]);
    }
    if (isSpecial(this.peek(), ">")) this.pos++;
    this.pushMailbox(name ?? before, adl, joinTight(local), joinTight(domain));
    this.until([",", ";"]);
  }

  private pushMailbox(name: string | null, adl: string | null, mailbox: string, host: string): void {
    if (mailbox === "" && host === "" && name === null) return; // "<>" or empty element
    this.out.push([name, adl, mailbox || MISSING_MAILBOX, host || MISSING_DOMAIN]);
  }
}

/** RFC 3501 address list for a header value, or null (NIL) when it holds no address. */
export function addressList(value: string | undefined): Sexp {
  if (value === undefined) return null;
  const list = new AddressParser(tokenize(value)).parse();
  if (list.length === 0) return null;
  Object.defineProperty(list, ADJACENT, { value: list.length, enumerable: false });
  return list;
}

/**
 * The mailboxes of a header value as `name <mailbox@host>` (or `mailbox@host`),
 * comments and folding left out: what SEARCH FROM/TO/CC/BCC match besides the
 * raw text, so `<user (c)@ (c) example.org>` is found as user@example.org.
 */
export function addressTexts(value: string): string[] {
  const out: string[] = [];
  for (const a of new AddressParser(tokenize(value)).parse()) {
    const [name, , mailbox, host] = a as Array<string | null>;
    if (mailbox == null || host == null) continue; // group start or end
    out.push(name ? `${name} <${mailbox}@${host}>` : `${mailbox}@${host}`);
  }
  return out;
}
