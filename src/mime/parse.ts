// parseMime: mailsplit finds the MIME tree and where every header block starts
// (its chunks rebuild the input byte for byte, so offsets are a running count);
// this file turns that into a JSON-serialisable MimeNode tree.

import { Splitter, type SplitterChunk } from "@zone-eu/mailsplit";
import type { MimeNode } from "./types";
import { readContentFields, readEnvelopeFields } from "./content-fields";
import { splitHeaderBlock } from "./header-block";

type SplitNode = Extract<SplitterChunk, { type: "node" }>;

interface Draft {
  node: MimeNode;
  /** The multipart boundary mailsplit split this node's children by, if any. */
  boundary: Buffer | null;
  children: Draft[];
  /** Root of the embedded message when mailsplit descended into a message/rfc822 part. */
  message?: Draft;
  /** End of the last body chunk mailsplit attributed to this node. */
  bodyChunkEnd: number;
}

const LF = 0x0a;
const CR = 0x0d;

function blankNode(headerStart: number, bodyStart: number): MimeNode {
  return {
    part: "",
    headerStart,
    bodyStart,
    bodyEnd: bodyStart,
    type: "text",
    subtype: "plain",
    params: [],
    id: null,
    description: null,
    encoding: null,
    size: 0,
    lines: 0,
    md5: null,
    disposition: null,
    language: null,
    location: null,
    multipart: false,
    children: [],
  };
}

function split(body: Buffer): Promise<SplitterChunk[]> {
  return new Promise((resolve, reject) => {
    const chunks: SplitterChunk[] = [];
    const splitter = new Splitter({ defaultInlineEmbedded: true, maxHeadSize: 16 * 1024 * 1024, maxChildNodes: 10_000 });
    splitter.on("data", (chunk: SplitterChunk) => chunks.push(chunk));
    const stream: NodeJS.ReadWriteStream = splitter;
    stream.once("error", reject);
    stream.once("end", () => resolve(chunks));
    stream.end(body);
  });
}

/** Builds drafts from mailsplit's chunk stream; null if the chunks do not account for every byte. */
function draftsFromChunks(body: Buffer, chunks: SplitterChunk[]): Draft | null {
  const drafts = new Map<SplitNode, Draft>();
  let root: Draft | null = null;
  let offset = 0;
  for (const chunk of chunks) {
    if (chunk.type === "node") {
      const headerLength = chunk.getHeaders().length;
      const draft: Draft = {
        node: blankNode(offset, offset + headerLength),
        boundary: chunk.multipart && chunk._boundary ? chunk._boundary : null,
        children: [],
        bodyChunkEnd: offset + headerLength,
      };
      draft.node.multipart = Boolean(chunk.multipart);
      offset += headerLength;
      const parent = chunk.parentNode ? drafts.get(chunk.parentNode as SplitNode) : undefined;
      if (!parent) {
        if (root) return null;
        root = draft;
      } else if (chunk.parentNode && chunk.parentNode.messageNode) {
        parent.message = draft;
      } else {
        parent.children.push(draft);
      }
      drafts.set(chunk, draft);
    } else {
      offset += chunk.value.length;
      if (chunk.type === "body") {
        const owner = drafts.get(chunk.node as SplitNode);
        if (owner) owner.bodyChunkEnd = offset;
      }
    }
  }
  return root && offset === body.length ? root : null;
}

/** RFC 2046 delimiter line for `boundary` at buf[p, q): "--" boundary ["--"] *WSP [CR* LF]. */
function isDelimiterLine(buf: Buffer, p: number, q: number, boundary: Buffer): boolean {
  let i = p + 2 + boundary.length;
  if (i > q || buf[p] !== 0x2d || buf[p + 1] !== 0x2d) return false;
  if (buf.compare(boundary, 0, boundary.length, p + 2, i) !== 0) return false;
  let closing = false;
  if (buf[i] === 0x2d && buf[i + 1] === 0x2d && i + 2 <= q) {
    closing = true;
    i += 2;
  }
  while (i < q && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
  // Only the closing delimiter may end the input without a line break.
  if (i === q) return closing;
  while (i < q && buf[i] === CR) i++;
  if (i < q && buf[i] === LF) i++;
  return i === q;
}

/**
 * Where a part that contains nested structure ends: at the first delimiter line of
 * any enclosing multipart after `from` (mailsplit ends parts at any open ancestor's
 * delimiter too), minus the line break in front of it, which belongs to the delimiter.
 */
function endBeforeDelimiter(buf: Buffer, from: number, floor: number, outer: Buffer[]): number {
  let p = from === 0 || buf[from - 1] === LF ? from : buf.indexOf(LF, from) + 1;
  if (p === 0 && from !== 0) return buf.length;
  while (p < buf.length) {
    const lf = buf.indexOf(LF, p);
    const q = lf < 0 ? buf.length : lf + 1;
    if (buf[p] === 0x2d && outer.some((b) => isDelimiterLine(buf, p, q, b))) {
      let end = p;
      if (buf[end - 1] === LF) end--;
      if (buf[end - 1] === CR) end--;
      return Math.max(end, floor);
    }
    p = q;
  }
  return buf.length;
}

/** Fixes bodyEnd of every draft; `outer` are the boundaries of the open enclosing multiparts. */
function settleEnds(buf: Buffer, draft: Draft, outer: Buffer[]): number {
  const node = draft.node;
  if (node.multipart) {
    const inner = draft.boundary ? [draft.boundary, ...outer] : outer;
    let last = node.bodyStart;
    for (const child of draft.children) last = Math.max(last, settleEnds(buf, child, inner));
    node.bodyEnd = outer.length > 0 ? endBeforeDelimiter(buf, last, node.bodyStart, outer) : buf.length;
  } else if (draft.message) {
    node.bodyEnd = settleEnds(buf, draft.message, outer);
  } else {
    node.bodyEnd = Math.max(draft.bodyChunkEnd, node.bodyStart);
  }
  return node.bodyEnd;
}

function isType(node: MimeNode, type: string, subtype: string): boolean {
  return node.type.toLowerCase() === type && node.subtype.toLowerCase() === subtype;
}

/** Reads the header fields of every draft and links the MimeNode tree. */
function describe(buf: Buffer, draft: Draft, isMessageRoot: boolean, inDigest: boolean): MimeNode {
  const node = draft.node;
  const fields = splitHeaderBlock(buf, node.headerStart, node.bodyStart);
  const multipart = node.multipart;
  Object.assign(node, readContentFields(buf, fields, inDigest ? ["message", "rfc822"] : ["text", "plain"]));
  if (multipart && node.type.toLowerCase() !== "multipart") {
    // mailsplit decided from the same header; keep the tree and the type consistent.
    node.type = "multipart";
  }
  if (!multipart && node.type.toLowerCase() === "multipart") node.multipart = false;
  if (draft.message && !isType(node, "message", "rfc822")) {
    node.type = "message";
    node.subtype = "rfc822";
  }
  if (isMessageRoot) node.envelope = readEnvelopeFields(buf, fields);
  const digest = multipart && node.subtype.toLowerCase() === "digest";
  node.children = draft.children.map((child) => describe(buf, child, false, digest));
  if (draft.message) node.message = describe(buf, draft.message, true, false);
  return node;
}

function shift(node: MimeNode, by: number): void {
  node.headerStart += by;
  node.bodyStart += by;
  node.bodyEnd += by;
  node.children.forEach((c) => shift(c, by));
  if (node.message) shift(node.message, by);
}

/** message/rfc822 parts mailsplit left as leaves (attachments, digest defaults) are parsed on their own. */
async function parseEmbeddedLeaves(buf: Buffer, node: MimeNode): Promise<void> {
  for (const child of node.children) await parseEmbeddedLeaves(buf, child);
  if (node.message) {
    await parseEmbeddedLeaves(buf, node.message);
  } else if (!node.multipart && isType(node, "message", "rfc822")) {
    const embedded = await parseMessage(buf.subarray(node.bodyStart, node.bodyEnd));
    shift(embedded, node.bodyStart);
    node.message = embedded;
  }
}

function finish(buf: Buffer, node: MimeNode, part: string): void {
  node.part = part;
  node.size = node.bodyEnd - node.bodyStart;
  let lines = 0;
  for (let i = buf.indexOf(LF, node.bodyStart); i >= 0 && i < node.bodyEnd; i = buf.indexOf(LF, i + 1)) lines++;
  node.lines = lines;
  const prefix = part === "" ? "" : `${part}.`;
  node.children.forEach((child, i) => finish(buf, child, `${prefix}${i + 1}`));
  if (node.message) {
    const embedded = node.message;
    finish(buf, embedded, part);
  }
}

/** A message mailsplit cannot account for is served as one text part, header up to the first blank line. */
function flatMessage(buf: Buffer): MimeNode {
  const fields = splitHeaderBlock(buf, 0, buf.length);
  let bodyStart = fields.length ? fields[fields.length - 1]!.end : 0;
  if (buf[bodyStart] === LF) bodyStart += 1;
  else if (buf[bodyStart] === CR && buf[bodyStart + 1] === LF) bodyStart += 2;
  const node = blankNode(0, bodyStart);
  node.bodyEnd = buf.length;
  Object.assign(node, readContentFields(buf, fields, ["text", "plain"]));
  if (node.type.toLowerCase() === "multipart") {
    node.type = "text";
    node.subtype = "plain";
    node.params = [];
  }
  node.envelope = readEnvelopeFields(buf, fields);
  return node;
}

async function parseMessage(buf: Buffer): Promise<MimeNode> {
  let root: MimeNode;
  const chunks = await split(buf).catch(() => null);
  const draft = chunks ? draftsFromChunks(buf, chunks) : null;
  if (draft) {
    settleEnds(buf, draft, []);
    root = describe(buf, draft, true, false);
  } else {
    root = flatMessage(buf);
  }
  await parseEmbeddedLeaves(buf, root);
  return root;
}

/** Parses a stored message once (at APPEND); the result is cached as JSON. */
export async function parseMime(body: Buffer): Promise<MimeNode> {
  const root = await parseMessage(body);
  finish(body, root, "");
  return root;
}
