// SEARCH evaluation. Keys that need only metadata (flags, dates, sizes, UIDs)
// run synchronously over the in-memory index and never touch a body, so
// `SEARCH UNSEEN` over a large mailbox stays cheap. Keys that need content
// (HEADER, BODY, TEXT, SENT*) load the body and cached MIME tree of only the
// messages that survive the cheaper keys.

import type { SearchKey, SequenceSet } from "../imap/types";
import type { MimeNode } from "../mime/types";
import { addressTexts, headerValues, searchableText, sentDate } from "../mime";
import { hasFlag, hasLowerFlag } from "./flags";

/** Header fields whose addresses SEARCH also matches with comments taken out (see addressTexts). */
const ADDRESS_FIELDS = new Set(["FROM", "TO", "CC", "BCC", "SENDER", "REPLY-TO"]);

// libmime ships no typings; only decodeWords is needed (TEXT over headers).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const libmime = require("libmime") as { decodeWords(s: string): string };

export interface SearchableMessage {
  uid: number;
  flags: readonly string[];
  internalDate: number;
  size: number;
}

export interface SearchEnv {
  seqOf(uid: number): number;
  recent: ReadonlySet<number>;
  /** Body and MIME tree of a message; called only for content keys. */
  load(uid: number): Promise<{ body: Buffer; mime: MimeNode }>;
}

/** True when some leaf of the program passes `test` (AND, OR and NOT are walked). */
function anyLeaf(key: SearchKey, test: (leaf: SearchKey) => boolean): boolean {
  switch (key.op) {
    case "AND":
      return key.keys.some((k) => anyLeaf(k, test));
    case "OR":
      return anyLeaf(key.left, test) || anyLeaf(key.right, test);
    case "NOT":
      return anyLeaf(key.key, test);
    default:
      return test(key);
  }
}

const CONTENT_KEYS: ReadonlySet<SearchKey["op"]> = new Set(["HEADER", "BODY", "TEXT", "SENTBEFORE", "SENTON", "SENTSINCE"]);

/** True when the program reads message bodies or headers, not only the index. */
export function needsContent(key: SearchKey): boolean {
  return anyLeaf(key, (k) => CONTENT_KEYS.has(k.op));
}

/** UIDs of `messages` (ascending by UID) that match `key`. */
export async function searchMessages(
  key: SearchKey,
  messages: readonly SearchableMessage[],
  env: SearchEnv,
): Promise<number[]> {
  const bounds = computeBounds(messages, env, usesSeq(key));
  const out: number[] = [];
  if (!needsContent(key)) {
    // The commonest program, one flag (SEARCH UNSEEN, SEEN, DELETED...), without the tree walk.
    if (key.op === "FLAG") {
      const want = key.flag.toLowerCase();
      for (const m of messages) if (hasLowerFlag(m.flags, key.flag, want) === key.present) out.push(m.uid);
      return out;
    }
    for (const m of messages) if (evalMeta(key, m, env, bounds)) out.push(m.uid);
    return out;
  }
  const ordered = orderByCost(key);
  for (const m of messages) {
    const content = new LazyContent(() => env.load(m.uid));
    if (await evalFull(ordered, m, env, bounds, content)) out.push(m.uid);
  }
  return out;
}

interface Bounds {
  maxUid: number;
  maxSeq: number;
}

/** True when the program has a sequence-set key, the only user of Bounds.maxSeq. */
function usesSeq(key: SearchKey): boolean {
  return anyLeaf(key, (k) => k.op === "SEQ");
}

function computeBounds(messages: readonly SearchableMessage[], env: SearchEnv, needSeq: boolean): Bounds {
  let maxSeq = 0;
  // A sequence number per message costs a lookup each; skipped when no key uses `*` of sequence numbers.
  if (needSeq) for (const m of messages) {
    const s = env.seqOf(m.uid);
    if (s > maxSeq) maxSeq = s;
  }
  const last = messages[messages.length - 1];
  return { maxUid: last ? last.uid : 0, maxSeq };
}

/** Puts metadata-only operands of AND/OR first so content is loaded only when it decides the result. */
function orderByCost(key: SearchKey): SearchKey {
  switch (key.op) {
    case "AND": {
      const keys = key.keys.map(orderByCost);
      keys.sort((a, b) => Number(needsContent(a)) - Number(needsContent(b)));
      return { op: "AND", keys };
    }
    case "OR": {
      const left = orderByCost(key.left);
      const right = orderByCost(key.right);
      return needsContent(left) && !needsContent(right) ? { op: "OR", left: right, right: left } : { op: "OR", left, right };
    }
    case "NOT":
      return { op: "NOT", key: orderByCost(key.key) };
    default:
      return key;
  }
}

export function inSequenceSet(set: SequenceSet, n: number, max: number): boolean {
  for (const r of set) {
    let a = r.from ?? max;
    let b = r.to ?? max;
    if (a > b) [a, b] = [b, a];
    if (n >= a && n <= b) return true;
  }
  return false;
}

function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function compareDate(op: "BEFORE" | "ON" | "SINCE", actual: string, wanted: string): boolean {
  if (op === "BEFORE") return actual < wanted;
  if (op === "ON") return actual === wanted;
  return actual >= wanted;
}

function evalMeta(key: SearchKey, m: SearchableMessage, env: SearchEnv, b: Bounds): boolean {
  switch (key.op) {
    case "ALL":
      return true;
    case "AND":
      return key.keys.every((k) => evalMeta(k, m, env, b));
    case "OR":
      return evalMeta(key.left, m, env, b) || evalMeta(key.right, m, env, b);
    case "NOT":
      return !evalMeta(key.key, m, env, b);
    case "SEQ": {
      const seq = env.seqOf(m.uid);
      return seq > 0 && inSequenceSet(key.set, seq, b.maxSeq);
    }
    case "UID":
      return inSequenceSet(key.set, m.uid, b.maxUid);
    case "FLAG":
      return hasFlag(m.flags, key.flag) === key.present;
    case "NEW":
      return env.recent.has(m.uid) && !hasFlag(m.flags, "\\Seen");
    case "OLD":
      return !env.recent.has(m.uid);
    case "RECENT":
      return env.recent.has(m.uid);
    case "BEFORE":
    case "ON":
    case "SINCE":
      return compareDate(key.op, utcDate(m.internalDate), key.date);
    case "LARGER":
      return m.size > key.size;
    case "SMALLER":
      return m.size < key.size;
    default:
      throw new Error(`search key ${key.op} needs message content`);
  }
}

async function evalFull(
  key: SearchKey,
  m: SearchableMessage,
  env: SearchEnv,
  b: Bounds,
  c: LazyContent,
): Promise<boolean> {
  switch (key.op) {
    case "AND":
      for (const k of key.keys) if (!(await evalFull(k, m, env, b, c))) return false;
      return true;
    case "OR":
      return (await evalFull(key.left, m, env, b, c)) || (await evalFull(key.right, m, env, b, c));
    case "NOT":
      return !(await evalFull(key.key, m, env, b, c));
    case "HEADER": {
      const values = await c.header(key.field);
      // RFC 3501: an empty string matches every message that has the field.
      if (key.value === "") return values.length > 0;
      const needle = key.value.toLowerCase();
      if (values.some((v) => v.toLowerCase().includes(needle))) return true;
      return ADDRESS_FIELDS.has(key.field) && values.some((v) => addressTexts(v).some((a) => a.toLowerCase().includes(needle)));
    }
    case "BODY":
      return (await c.bodyText()).includes(key.value.toLowerCase());
    case "TEXT": {
      const needle = key.value.toLowerCase();
      return (await c.headerText()).includes(needle) || (await c.bodyText()).includes(needle);
    }
    case "SENTBEFORE":
    case "SENTON":
    case "SENTSINCE": {
      // Without a usable Date: header the INTERNALDATE stands in, the rule RFC 5256 §2.2 sets for
      // SORT's sent date (Dovecot instead treats such a message as sent in 1970).
      const local = (await c.sentLocalDate()) ?? utcDate(m.internalDate);
      const op = key.op === "SENTBEFORE" ? "BEFORE" : key.op === "SENTON" ? "ON" : "SINCE";
      return compareDate(op, local, key.date);
    }
    default:
      return evalMeta(key, m, env, b);
  }
}

/** Loads a message's content on first use and memoises what the keys derive from it. */
class LazyContent {
  private loaded?: Promise<{ body: Buffer; mime: MimeNode }>;
  private text?: string;
  private headers?: string;
  private sent?: string | null;

  constructor(private readonly loader: () => Promise<{ body: Buffer; mime: MimeNode }>) {}

  private get(): Promise<{ body: Buffer; mime: MimeNode }> {
    this.loaded ??= this.loader();
    return this.loaded;
  }

  async header(field: string): Promise<string[]> {
    const { body, mime } = await this.get();
    return headerValues(body, mime, field);
  }

  async bodyText(): Promise<string> {
    if (this.text === undefined) {
      const { body, mime } = await this.get();
      this.text = searchableText(body, mime).toLowerCase();
    }
    return this.text;
  }

  async headerText(): Promise<string> {
    if (this.headers === undefined) {
      const { body } = await this.get();
      this.headers = decodedHeaderBlock(body).toLowerCase();
    }
    return this.headers;
  }

  /** The Date: header's calendar date in the sender's own zone (RFC 3501 SENT* keys). */
  async sentLocalDate(): Promise<string | undefined> {
    if (this.sent === undefined) {
      const { body, mime } = await this.get();
      const ms = sentDate(body, mime);
      if (ms === undefined || Number.isNaN(ms)) this.sent = null;
      else {
        const raw = headerValues(body, mime, "Date")[0] ?? "";
        this.sent = utcDate(ms + zoneOffsetMinutes(raw) * 60_000);
      }
    }
    return this.sent ?? undefined;
  }
}

const NAMED_ZONES: Record<string, number> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0,
  EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420,
};

export function zoneOffsetMinutes(dateHeader: string): number {
  const text = dateHeader.replace(/\([^)]*\)/g, " ").trim();
  const numeric = /([+-])(\d{2})(\d{2})\s*$/.exec(text);
  if (numeric) {
    const minutes = Number(numeric[2]) * 60 + Number(numeric[3]);
    return numeric[1] === "-" ? -minutes : minutes;
  }
  const named = /([A-Za-z]{1,3})\s*$/.exec(text);
  return named ? (NAMED_ZONES[named[1]!.toUpperCase()] ?? 0) : 0;
}

/** The top-level header block, unfolded, with RFC 2047 encoded words decoded. */
export function decodedHeaderBlock(body: Buffer): string {
  let end = body.indexOf("\r\n\r\n");
  if (end < 0) end = body.indexOf("\n\n");
  if (end < 0) end = body.length;
  const raw = body.subarray(0, end).toString("utf8").replace(/\r?\n[ \t]+/g, " ");
  try {
    return libmime.decodeWords(raw);
  } catch {
    return raw;
  }
}
