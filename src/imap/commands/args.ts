// Argument helpers shared by the command grammars: arity, mailbox names,
// sequence sets resolved against the session's view, UID set formatting.

import { decodeMailboxName } from "../grammar/mailbox-name";
import { mergeSequenceSet, parseSequenceSet } from "../grammar/sequence-set";
import type { SelectedView } from "../selected-view";
import { ProtocolError } from "../tokenizer";
import type { SequenceSet, Token } from "../types";

export function expectCount(args: Token[], min: number, max: number, usage: string): void {
  if (args.length < min || args.length > max) throw new ProtocolError(`Expected ${usage}`);
}

export function noArgs(args: Token[]): void {
  if (args.length > 0) throw new ProtocolError("Unexpected arguments");
}

export function mailboxArg(token: Token | undefined): string {
  if (!token) throw new ProtocolError("Missing mailbox name");
  return decodeMailboxName(token);
}

export function atomArg(token: Token | undefined, what: string): string {
  if (!token || token.type !== "atom") throw new ProtocolError(`Expected ${what}`);
  return token.value;
}

export function sequenceSetArg(token: Token | undefined): SequenceSet {
  if (!token || token.type !== "atom") throw new ProtocolError("Expected a sequence set");
  return parseSequenceSet(token.value);
}

/**
 * The UIDs a sequence set names in this session, ascending.
 * By sequence number: a number beyond the mailbox is a client error (BAD), and
 * so is `*` in an empty mailbox. By UID: UIDs that do not exist are ignored,
 * and `n:*` always includes the highest UID (RFC 3501 §6.4.8).
 */
export function resolveSet(view: SelectedView, set: SequenceSet, byUid: boolean): number[] {
  if (byUid) {
    const known = view.knownUids();
    if (known.length === 0) return [];
    // One walk over the known UIDs and the merged ranges, both ascending:
    // no per-UID pass over the set (UID FETCH 1:* of 100,000 messages).
    const ranges = mergeSequenceSet(set, known[known.length - 1]!);
    const out: number[] = [];
    let r = 0;
    for (const u of known) {
      while (r < ranges.length && ranges[r]![1] < u) r++;
      if (r === ranges.length) break;
      if (u >= ranges[r]![0]) out.push(u);
    }
    return out;
  }
  const count = view.exists;
  for (const r of set) {
    for (const n of [r.from, r.to]) {
      if (n === null ? count === 0 : n > count || n < 1) throw new ProtocolError("Invalid sequence set: no such message");
    }
  }
  const seqs = new Set<number>();
  for (const r of set) {
    let a = r.from ?? count;
    let b = r.to ?? count;
    if (a > b) [a, b] = [b, a];
    for (let s = a; s <= b; s++) seqs.add(s);
  }
  return [...seqs].sort((x, y) => x - y).map((s) => view.uidAt(s)!);
}

/** `1:3,5,8:9` from ascending or arbitrary UIDs, keeping the given order (COPYUID pairs rely on it). */
export function formatUidSet(uids: readonly number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < uids.length) {
    let j = i;
    while (j + 1 < uids.length && uids[j + 1] === uids[j]! + 1) j++;
    out.push(j === i ? String(uids[i]) : `${uids[i]}:${uids[j]}`);
    i = j + 1;
  }
  return out.join(",");
}

/** Bytes of a string token, or text of an atom (what APPEND's message and SASL data may be). */
export function stringBytes(token: Token | undefined, what: string): Buffer {
  if (token?.type === "string") return token.value;
  throw new ProtocolError(`Expected ${what}`);
}
