// LevelDB key layout. One database per node holds every user, so each key
// starts with a record kind and the (escaped) user. Escaping keeps "!" out of
// the variable parts, which makes `kind!user!` an exact prefix for range scans.

const SEQ_DIGITS = 16;

/** encodeURIComponent leaves "!" alone; it is our separator, so encode it too. */
export function escapeKeyPart(part: string): string {
  return encodeURIComponent(part).replace(/!/g, "%21");
}

export function unescapeKeyPart(part: string): string {
  return decodeURIComponent(part);
}

export function padSeq(seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, "0");
}

/** Upper bound for a prefix scan; every escaped key part is ASCII below "~". */
export const PREFIX_END = "~";

export const keys = {
  opPrefix: (user: string) => `op!${escapeKeyPart(user)}!`,
  op: (user: string, replica: string, seq: number) =>
    `op!${escapeKeyPart(user)}!${escapeKeyPart(replica)}!${padSeq(seq)}`,
  snapshot: (user: string) => `snap!${escapeKeyPart(user)}`,
  localSeq: (user: string, replica: string) => `seq!${escapeKeyPart(user)}!${escapeKeyPart(replica)}`,
  recentPrefix: (user: string) => `recent!${escapeKeyPart(user)}!`,
  recent: (user: string, mailboxId: string) => `recent!${escapeKeyPart(user)}!${escapeKeyPart(mailboxId)}`,
  blob: (sha: string) => `blob!${sha}`,
  mime: (sha: string) => `mime!${sha}`,
};

/** Splits an op key into its origin replica and sequence number. */
export function parseOpKey(key: string): { replica: string; seq: number } {
  const parts = key.split("!");
  if (parts.length !== 4 || parts[0] !== "op") throw new Error(`not an op key: ${key}`);
  return { replica: unescapeKeyPart(parts[2]!), seq: Number(parts[3]) };
}
