// FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8).
import { envelope, bodyStructure, section } from "../../mime";
import type { MimeNode } from "../../mime/types";
import { afterCommit, no, ok, SELECTED, type CommandContext, type CommandSpec, type Reply } from "../dispatcher";
import { formatInternalDate } from "../grammar/dates";
import { parseFetchAttributes } from "../grammar/fetch-attributes";
import { metaIndex, type SelectedView } from "../selected-view";
import { StoreError, type MessageMeta } from "../store-port";
import { ProtocolError } from "../tokenizer";
import type { FetchAttribute, SectionSpec, SequenceSet, Token } from "../types";
import { Literal, encodeValue } from "../writer";
import { resolveSet, sequenceSetArg } from "./args";
import { encodeSexp } from "./sexp";

export interface FetchArgs {
  set: SequenceSet;
  attrs: FetchAttribute[];
  /** Response names of the BODY[...] attributes, in order, echoing the client's spelling. */
  sectionNames: string[];
  uid: boolean;
}

type BodyAttr = Extract<FetchAttribute, { kind: "BODY[]" }>;

function tokenText(t: Token): string {
  switch (t.type) {
    case "atom":
      return t.value;
    case "string":
      return `"${t.value.toString("utf8").replace(/["\\]/g, "\\$&")}"`;
    case "nil":
      return "NIL";
    case "list":
      return `(${t.items.map(tokenText).join(" ")})`;
    case "section":
      return `${t.atom}[${t.section.map(tokenText).join(" ")}]`;
  }
}

/** Section tokens of BODY[...] / BODY.PEEK[...] in the order the client wrote them. */
function sectionTokens(tokens: Token[], out: Array<Extract<Token, { type: "section" }>> = []) {
  for (const t of tokens) {
    if (t.type === "section" && /^BODY(\.PEEK)?$/i.test(t.atom)) out.push(t);
    else if (t.type === "list") sectionTokens(t.items, out);
  }
  return out;
}

function specText(s: SectionSpec): string {
  const parts = s.part.join(".");
  const text = s.text ? (parts ? `${parts}.${s.text}` : s.text) : parts;
  return s.fields ? `${text} (${s.fields.join(" ")})` : text;
}

function echoText(t: Extract<Token, { type: "section" }>): string {
  const [first, ...rest] = t.section;
  if (!first) return "";
  const head = first.type === "atom" ? first.value.toUpperCase() : tokenText(first);
  return [head, ...rest.map(tokenText)].join(" ");
}

function setsSeen(a: FetchAttribute): boolean {
  return (a.kind === "BODY[]" && !a.peek) || a.kind === "RFC822" || a.kind === "RFC822.TEXT";
}

function needsMime(a: FetchAttribute): boolean {
  switch (a.kind) {
    case "ENVELOPE":
    case "BODY":
    case "BODYSTRUCTURE":
    case "RFC822.HEADER":
    case "RFC822.TEXT":
      return true;
    case "BODY[]":
      return a.section.part.length > 0 || a.section.text !== undefined;
    default:
      return false;
  }
}

function needsBody(a: FetchAttribute): boolean {
  return a.kind === "BODY[]" || a.kind === "RFC822" || a.kind === "RFC822.HEADER" || a.kind === "RFC822.TEXT";
}

export const fetch: CommandSpec<FetchArgs> = {
  name: "FETCH",
  states: SELECTED,
  uid: true,
  updates: "no-expunge",
  parse(args: Token[], uid: boolean) {
    if (args.length < 2) throw new ProtocolError("Expected sequence set and fetch attributes");
    const set = sequenceSetArg(args[0]);
    const rest = args.slice(1);
    const attrs = parseFetchAttributes(rest);
    if (attrs.length === 0) throw new ProtocolError("No fetch attributes");
    const bodies = attrs.filter((a): a is BodyAttr => a.kind === "BODY[]");
    const tokens = sectionTokens(rest);
    const sectionNames = bodies.map((a, i) => {
      const t = tokens.length === bodies.length ? tokens[i] : undefined;
      const inner = t ? echoText(t) : specText(a.section);
      return `BODY[${inner}]${a.partial ? `<${a.partial.start}>` : ""}`;
    });
    return { set, attrs, sectionNames, uid };
  },
  handle: runFetch,
};

type IndexAttribute = "UID" | "FLAGS" | "INTERNALDATE" | "RFC822.SIZE";

/** The value of an attribute the index answers; FLAGS also tells the view what the client now knows. */
function indexValue(kind: IndexAttribute, view: SelectedView, meta: MessageMeta, flags: readonly string[], write: (line: string) => void): string {
  switch (kind) {
    case "UID":
      return String(meta.uid);
    case "FLAGS":
      return view.reportFlags(meta.uid, flags, write);
    case "INTERNALDATE":
      return `"${formatInternalDate(meta.internalDate)}"`;
    case "RFC822.SIZE":
      return String(meta.size);
  }
}

/** Attributes answered from the index alone: no body, no MIME tree, no \Seen to set. */
function metaOnly(a: FetchAttribute): a is FetchAttribute & { kind: IndexAttribute } {
  return a.kind === "UID" || a.kind === "FLAGS" || a.kind === "INTERNALDATE" || a.kind === "RFC822.SIZE";
}

/**
 * The requested messages, with the store's record of each looked up in one
 * synchronous pass. A message another session expunged, which this session
 * has not been told of yet, is served as it was (RFC 2180 §4.1.1, as Dovecot
 * does) from the record its handle kept. One that cannot be served makes the
 * reply NO [EXPUNGEISSUED] to FETCH (RFC 2180 §4.1.2); UID FETCH answers OK
 * [EXPUNGEISSUED], since a UID that no longer exists is ignored without an
 * error (RFC 9051 §6.4.9).
 */
class FetchTargets {
  missing = false;
  private readonly metas: Array<MessageMeta | undefined>;

  constructor(
    private readonly view: SelectedView,
    private readonly uids: readonly number[],
    private readonly byUid: boolean,
  ) {
    const list = view.handle.messages();
    const index = metaIndex(list);
    this.metas = uids.map((uid) => {
      const i = index.indexOf(uid);
      // Not in the store but numbered in the view: removed by someone, and this session has not said so yet.
      return i >= 0 ? list[i] : view.handle.removedMessage(uid);
    });
  }

  *[Symbol.iterator](): Generator<{ seq: number; meta: MessageMeta }> {
    const view = this.view;
    for (let i = 0; i < this.uids.length; i++) {
      const uid = this.uids[i]!;
      const meta = this.metas[i];
      const seq = view.seqOf(uid);
      if (meta === undefined || seq <= 0) this.missing = true;
      else yield { seq, meta };
    }
  }

  reply(): Reply {
    if (!this.missing) return ok("FETCH completed");
    return this.byUid ? ok("FETCH completed; some of the messages no longer exist", "EXPUNGEISSUED") : no("Some of the requested messages no longer exist", "EXPUNGEISSUED");
  }
}

/** Responses are sent in batches of about this many characters, each one socket write. */
const BATCH_CHARS = 64 * 1024;

async function runFetch(ctx: CommandContext, args: FetchArgs): Promise<Reply> {
  const view = ctx.view!;
  const uids = resolveSet(view, args.set, args.uid);
  if (uids.length === 0) return ok("FETCH completed");
  const attrs = args.uid && !args.attrs.some((a) => a.kind === "UID") ? [{ kind: "UID" } as FetchAttribute, ...args.attrs] : args.attrs;
  const targets = new FetchTargets(view, uids, args.uid);
  if (attrs.every(metaOnly)) return fetchMeta(ctx, view, targets, attrs);

  // Setting \Seen first lets the response carry the new flags (RFC 3501 §6.4.5).
  // Like STORE, the tagged reply waits for the \\Seen change's commit, not the command (see Reply.durable).
  let seenNow = new Map<number, string[]>();
  let durable: Promise<void> | undefined;
  if (!view.readOnly && attrs.some(setsSeen)) {
    const unseen: number[] = [];
    for (const { meta } of targets) if (!meta.flags.includes("\\Seen")) unseen.push(meta.uid);
    if (unseen.length > 0) ({ value: seenNow, durable } = view.handle.applyStore(unseen, "add", ["\\Seen"]));
    // The reply reports a failed commit; if a message fails to load first, that rejection must not go unhandled.
    durable?.catch(() => undefined);
  }

  for (const { seq, meta } of targets) {
    let response: Buffer;
    try {
      response = await fetchOne(ctx, view, seq, meta, attrs, args.sectionNames, seenNow.get(meta.uid));
    } catch (err) {
      if (err instanceof StoreError && err.code === "NONEXISTENT") {
        targets.missing = true;
        continue;
      }
      throw err;
    }
    ctx.untagged(response);
    await ctx.drain();
  }
  return afterCommit(targets.reply(), durable);
}

/**
 * FETCH of index attributes only (UID, FLAGS, INTERNALDATE, RFC822.SIZE): the
 * responses are built as text without an await per message and written in
 * batches, so `UID FETCH 1:* (FLAGS)` over a large mailbox costs one string
 * per message and one write per BATCH_CHARS. The bytes are those fetchOne
 * would send. Records are immutable, so the ones FetchTargets looked up
 * stay valid across the drains between batches.
 */
async function fetchMeta(
  ctx: CommandContext,
  view: SelectedView,
  targets: FetchTargets,
  attrs: ReadonlyArray<FetchAttribute & { kind: IndexAttribute }>,
): Promise<Reply> {
  // Several responses go out as one untagged "line": the session writes `* `,
  // the content and CRLF, so joining responses with CRLF `* ` keeps the bytes.
  let batch: string[] = [];
  let batchChars = 0;
  const flush = () => {
    if (batch.length === 0) return;
    ctx.untagged(batch.join("\r\n* "));
    batch = [];
    batchChars = 0;
  };
  // A new keyword is announced (FLAGS, PERMANENTFLAGS) before the response that carries it.
  const write = (line: string) => {
    flush();
    ctx.untagged(line);
  };
  for (const { seq, meta } of targets) {
    let line = `${seq} FETCH (`;
    for (let k = 0; k < attrs.length; k++) {
      const kind = attrs[k]!.kind;
      line += `${k > 0 ? " " : ""}${kind} ${indexValue(kind, view, meta, meta.flags, write)}`;
    }
    line += ")";
    batch.push(line);
    batchChars += line.length + 4;
    if (batchChars >= BATCH_CHARS) {
      flush();
      await ctx.drain();
    }
  }
  flush();
  return targets.reply();
}

async function fetchOne(
  ctx: CommandContext,
  view: SelectedView,
  seq: number,
  meta: MessageMeta,
  attrs: FetchAttribute[],
  sectionNames: string[],
  seenFlags: string[] | undefined,
): Promise<Buffer> {
  const uid = meta.uid;
  let body: Buffer | undefined;
  let mime: MimeNode | undefined;
  if (attrs.some(needsBody)) body = await view.handle.body(uid);
  if (attrs.some(needsMime)) mime = await view.handle.mime(uid);
  const write = (line: string) => ctx.untagged(line);
  const flags = seenFlags ?? meta.flags;

  const items: Buffer[] = [];
  const item = (name: string, value: Buffer | string) =>
    items.push(Buffer.concat([Buffer.from(name + " "), typeof value === "string" ? Buffer.from(value) : value]));
  const sectionOf = (spec: SectionSpec) => section(body!, mime!, spec);
  let bodyIndex = 0;
  let sentFlags = false;

  for (const a of attrs) {
    switch (a.kind) {
      case "FLAGS":
        item(a.kind, indexValue(a.kind, view, meta, flags, write));
        sentFlags = true;
        break;
      case "UID":
      case "INTERNALDATE":
      case "RFC822.SIZE":
        item(a.kind, indexValue(a.kind, view, meta, flags, write));
        break;
      case "ENVELOPE":
        item("ENVELOPE", encodedOnce(mime!, "ENVELOPE"));
        break;
      case "BODY":
        item("BODY", encodedOnce(mime!, "BODY"));
        break;
      case "BODYSTRUCTURE":
        item("BODYSTRUCTURE", encodedOnce(mime!, "BODYSTRUCTURE"));
        break;
      case "RFC822":
        item("RFC822", encodeValue(new Literal(body!)));
        break;
      case "RFC822.HEADER":
        item("RFC822.HEADER", sectionValue(sectionOf({ part: [], text: "HEADER" })));
        break;
      case "RFC822.TEXT":
        item("RFC822.TEXT", sectionValue(sectionOf({ part: [], text: "TEXT" })));
        break;
      case "BODY[]": {
        const name = sectionNames[bodyIndex++] ?? `BODY[${specText(a.section)}]`;
        let data = a.section.part.length === 0 && a.section.text === undefined ? body! : sectionOf(a.section);
        if (data && a.partial) data = data.subarray(a.partial.start, a.partial.start + a.partial.length);
        item(name, sectionValue(data));
        break;
      }
    }
  }
  // A \Seen set by this FETCH is reported in the same response.
  if (seenFlags && !sentFlags) item("FLAGS", view.reportFlags(uid, flags, write));

  const parts: Buffer[] = [Buffer.from(`${seq} FETCH (`)];
  items.forEach((b, i) => {
    if (i > 0) parts.push(Buffer.from(" "));
    parts.push(b);
  });
  parts.push(Buffer.from(")"));
  return Buffer.concat(parts);
}

/**
 * A message's MIME tree never changes, and the store hands out the same
 * parsed tree while it is cached, so its ENVELOPE, BODY and BODYSTRUCTURE
 * are encoded once rather than on every FETCH (address parsing and quoting
 * were ~4% of a worker's CPU in the mixed workload).
 */
const encoded = new WeakMap<MimeNode, Partial<Record<"ENVELOPE" | "BODY" | "BODYSTRUCTURE", Buffer>>>();

function encodedOnce(mime: MimeNode, kind: "ENVELOPE" | "BODY" | "BODYSTRUCTURE"): Buffer {
  let forNode = encoded.get(mime);
  if (!forNode) encoded.set(mime, (forNode = {}));
  return (forNode[kind] ??= encodeSexp(kind === "ENVELOPE" ? envelope(mime) : bodyStructure(mime, kind === "BODYSTRUCTURE")));
}

/**
 * Section data as a literal. A section that does not exist (BODY[3] of a
 * two-part message, BODY[1.HEADER] of a text part) is the empty string, not
 * NIL: UW-IMAP and Dovecot answer so, as RFC 3501's author advised
 * (imap-protocol list, April 2011), and clients read section data as a string.
 */
function sectionValue(data: Buffer | null): Buffer {
  return data === null ? EMPTY_STRING : encodeValue(new Literal(data));
}

const EMPTY_STRING = Buffer.from('""');
