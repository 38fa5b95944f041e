import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawImapClient, STACK_TRACE } from "./support/raw-client";
import { removeDir, startServer, type RunningServer } from "./support/server";
import { closeQuietly, connected, snapshot, type MailboxSnapshot } from "./support/imapflow-client";
import { simpleMessage } from "./support/messages";

/**
 * Fuzzes a real server process over TLS (and the plain port before STARTTLS), then checks that it is
 * alive and that data the fuzzer could not reach is exactly as it was. Authenticated fuzzing runs as
 * bob inside bob's mailbox "Fuzz"; alice's account is only ever fuzzed unauthenticated, so a fresh
 * alice session must see exactly what was set up.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const AUTH_RUNS = 200;
const UNAUTH_RUNS = 120;
const RESPONSE_TIMEOUT_MS = 3_000;
/** Wall-clock budget for sending cases, so a hanging server fails the test instead of the file timeout. */
const BUDGET_MS = 35_000;
const LONG_LINE = 2 * 1024 * 1024;

let srv: RunningServer;

let aliceBefore: MailboxSnapshot;
let aliceMailboxes: string[];
let bobInboxBefore: MailboxSnapshot;

beforeAll(async () => {
  // The fuzzer sends wrong passwords on purpose; the failed-login slowdown is
  // tested elsewhere (src/auth/rate-limit.test.ts) and here would only eat the time budget.
  srv = await startServer({ env: { CHARON_AUTH__DELAYMS: "0", CHARON_AUTH__MAXFAILURESPERIP: "100000", CHARON_AUTH__MAXFAILURESPERUSER: "100000" } });
  const alice = await connected(srv);
  try {
    await alice.mailboxCreate("Keep");
    await alice.append("INBOX", simpleMessage({ subject: "a1", body: "one" }), ["\\Seen"]);
    await alice.append("INBOX", simpleMessage({ subject: "a2", body: "two" }), ["\\Flagged", "$Work"]);
    await alice.append("INBOX", simpleMessage({ subject: "a3", body: "three" }));
    await alice.append("Keep", simpleMessage({ subject: "k1", body: "keep" }), ["\\Answered"]);
    aliceBefore = await snapshot(alice);
    aliceMailboxes = aliceBefore.map((s) => s.path);
  } finally {
    await closeQuietly(alice);
  }
  const bob = await connected(srv, "bob", "secret2");
  try {
    await bob.append("INBOX", simpleMessage({ subject: "b1", body: "bob one" }), ["\\Seen"]);
    await bob.append("INBOX", simpleMessage({ subject: "b2", body: "bob two" }));
    await bob.mailboxCreate("Fuzz");
    for (let i = 0; i < 3; i++) await bob.append("Fuzz", simpleMessage({ subject: `f${i}`, body: `fuzz target ${i}` }));
    bobInboxBefore = await snapshot(bob, ["INBOX"]);
  } finally {
    await closeQuietly(bob);
  }
});

afterAll(async () => {
  await srv?.stop();
  removeDir(srv?.dataDir);
});

// ---------------------------------------------------------------------------------------------
// Case generators

const SPECIAL = ["(", ")", "{", "}", "[", "]", "<", ">", '"', "\\", "*", "%", ":", ",", ".", " ", "+", "-", "0", "9", "\x00", "\x7f", "\x80", "\xff", "~", "&"];
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split("");
const charArb = fc.constantFrom(...SPECIAL, ...LETTERS);
const smallText = fc.array(charArb, { minLength: 1, maxLength: 6 }).map((a) => a.join(""));

/** Valid commands on bob's Fuzz mailbox and names no other test uses; none names INBOX. */
const AUTH_TEMPLATES = [
  "NOOP",
  "CHECK",
  "CAPABILITY",
  "NAMESPACE",
  "ID NIL",
  'ID ("name" "fuzzer" "version" "1")',
  "FETCH 1:* (FLAGS UID ENVELOPE BODYSTRUCTURE)",
  "FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]<0.100>",
  "FETCH 2:3 (BODY.PEEK[1.MIME] BODY.PEEK[TEXT]<2.7> RFC822.SIZE INTERNALDATE)",
  "UID FETCH 1:* (BODY.PEEK[] BINARY.PEEK[1])",
  "FETCH * FAST",
  "STORE 1:* +FLAGS (\\Flagged $kw1)",
  "UID STORE 1:* -FLAGS.SILENT (\\Seen)",
  "STORE 2 FLAGS (\\Draft \\Answered)",
  'SEARCH OR SUBJECT "f 1" NOT FROM sender SINCE 1-Feb-1994',
  "SEARCH CHARSET UTF-8 UNSEEN LARGER 10 SMALLER 100000 HEADER X-Foo bar",
  "UID SEARCH UID 1:* BODY target",
  "SEARCH (OR SEEN FLAGGED) NOT (KEYWORD $kw1) 2:*",
  'LIST "" "*"',
  'LIST "" %',
  'LSUB "" "*"',
  "STATUS Fuzz (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)",
  "CREATE fz1/fz2",
  "RENAME fz1 fz3",
  "DELETE fz3",
  "SUBSCRIBE fz1",
  "UNSUBSCRIBE fz1",
  "COPY 1 fz1",
  "UID MOVE 3 fz1",
  "EXAMINE Fuzz",
  "SELECT Fuzz",
  "EXPUNGE",
];

const UNAUTH_TEMPLATES = [
  "CAPABILITY",
  "NOOP",
  "LOGIN alice wrong-password-zz",
  'LOGIN "bob" "not-his-password-qq"',
  "AUTHENTICATE PLAIN AGFsaWNlAHdyb25nLXBhc3N3b3JkLXp6",
  'ID ("name" "fuzzer")',
  "STARTTLS",
  "SELECT INBOX",
  "LOGOUT",
];

type Mutation =
  | { kind: "delete"; pos: number; len: number }
  | { kind: "insert"; pos: number; text: string }
  | { kind: "replace"; pos: number; text: string }
  | { kind: "dup"; pos: number; len: number }
  | { kind: "truncate"; pos: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("delete" as const), pos: fc.nat(200), len: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant("insert" as const), pos: fc.nat(200), text: smallText }),
  fc.record({ kind: fc.constant("replace" as const), pos: fc.nat(200), text: smallText }),
  fc.record({ kind: fc.constant("dup" as const), pos: fc.nat(200), len: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant("truncate" as const), pos: fc.nat(200) }),
);

function mutate(text: string, muts: Mutation[]): string {
  let s = text;
  for (const m of muts) {
    const p = s.length === 0 ? 0 : m.pos % (s.length + 1);
    switch (m.kind) {
      case "delete":
        s = s.slice(0, p) + s.slice(p + m.len);
        break;
      case "insert":
        s = s.slice(0, p) + m.text + s.slice(p);
        break;
      case "replace":
        s = s.slice(0, p) + m.text + s.slice(p + m.text.length);
        break;
      case "dup":
        s = s.slice(0, p + m.len) + s.slice(p, p + m.len) + s.slice(p + m.len);
        break;
      case "truncate":
        s = s.slice(0, Math.max(1, p));
        break;
    }
  }
  return s;
}

/**
 * One fuzz case for an authenticated connection. `mustRefuse`: the command is malformed, so the
 * tagged response must be BAD or NO. `mayClose`: the server may close instead of answering
 * (RFC 7888 §4 for an over-limit non-synchronizing literal).
 */
interface AuthCase {
  label: string;
  conn: number;
  line: Buffer;
  mustRefuse: boolean;
  mayClose?: boolean;
  /** A synchronizing literal must not be invited (over the limit). */
  noContinuation?: boolean;
  /** Disconnect after sending this many literal bytes (client vanishing mid-literal). */
  disconnectMidLiteral?: number;
}

const latin1 = (s: string) => Buffer.from(s, "latin1");
const connArb = fc.nat(2);

const authCaseArb: fc.Arbitrary<AuthCase> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ conn: connArb, t: fc.constantFrom(...AUTH_TEMPLATES), muts: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) }).map(({ conn, t, muts }) => ({ label: "mutated", conn, line: latin1(mutate(t, muts).replace(/[\r\n]/g, " ")), mustRefuse: false })) },
  { weight: 2, arbitrary: fc.record({ conn: connArb, s: smallText }).map(({ conn, s }) => ({ label: "unknown-command", conn, line: latin1(`XFZ${s.replace(/[\r\n ]/g, "")}`), mustRefuse: true })) },
  {
    weight: 2,
    arbitrary: fc.record({ conn: connArb, t: fc.constantFrom("FETCH 1:* (FLAGS (UID", "SEARCH (OR SEEN", "STORE 1 +FLAGS (\\Seen", "FETCH 1 BODY[HEADER.FIELDS (SUBJECT]", "FETCH 1 BODY[1.2.3", 'LIST "" "unterminated', "SEARCH ))))", "FETCH 1 (FLAGS))", "STORE 1 +FLAGS ((\\Seen)") }).map(({ conn, t }) => ({ label: "unbalanced", conn, line: latin1(t), mustRefuse: true })),
  },
  {
    weight: 2,
    arbitrary: fc.record({ conn: connArb, t: fc.constantFrom("APPEND Fuzz {99999999999}", "APPEND Fuzz (\\Seen) {18446744073709551617}", "SEARCH CHARSET UTF-8 BODY {99999999999}", "APPEND Fuzz {999999999999999999999999999999}") }).map(({ conn, t }) => ({ label: "huge-sync-literal", conn, line: latin1(t), mustRefuse: true, noContinuation: true })),
  },
  { weight: 1, arbitrary: connArb.map((conn) => ({ label: "huge-nonsync-literal", conn, line: latin1("APPEND Fuzz {99999999999+}"), mustRefuse: true, mayClose: true })) },
  { weight: 1, arbitrary: fc.record({ conn: connArb, t: fc.constantFrom("APPEND Fuzz {-1}", "APPEND Fuzz {1x}", "APPEND Fuzz {}", "APPEND Fuzz {+}", "APPEND Fuzz {5 }") }).map(({ conn, t }) => ({ label: "bad-literal-syntax", conn, line: latin1(t), mustRefuse: true })) },
  { weight: 1, arbitrary: fc.record({ conn: connArb, d: fc.constantFrom(33, 200, 10_000) }).map(({ conn, d }) => ({ label: `nesting-${d}`, conn, line: latin1(`SEARCH ${"(".repeat(d)}ALL${")".repeat(d)}`), mustRefuse: d === 10_000 })) },
  { weight: 1, arbitrary: fc.record({ conn: connArb, d: fc.constantFrom(50, 10_000) }).map(({ conn, d }) => ({ label: `unclosed-nesting-${d}`, conn, line: latin1(`FETCH 1 ${"(".repeat(d)}FLAGS`), mustRefuse: true })) },
  { weight: 1, arbitrary: connArb.map((conn) => ({ label: "long-line", conn, line: latin1(`SEARCH SUBJECT ${"x".repeat(LONG_LINE)}`), mustRefuse: true })) },
  { weight: 1, arbitrary: connArb.map((conn) => ({ label: "disconnect-mid-literal", conn, line: latin1("APPEND Fuzz {400}"), mustRefuse: false, disconnectMidLiteral: 100 })) },
  {
    weight: 3,
    arbitrary: fc.record({ conn: connArb, bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) }).map(({ conn, bytes }) => ({
      label: "random-bytes",
      conn,
      // CR/LF removed so the bytes stay one command; an `X` keeps the command name unknown.
      line: Buffer.concat([latin1("X"), Buffer.from(bytes.filter((b) => b !== 13 && b !== 10))]),
      mustRefuse: true,
    })),
  },
);

// ---------------------------------------------------------------------------------------------
// Runner

interface Finding {
  label: string;
  tag: string;
  sent: string;
  problem: string;
  transcript: string[];
}

function show(b: Buffer): string {
  const s = b.toString("latin1");
  return JSON.stringify(s.length > 300 ? `${s.slice(0, 200)}…(${s.length} bytes)…${s.slice(-60)}` : s);
}

class AuthPool {
  conns: Array<RawImapClient | undefined> = [undefined, undefined, undefined];
  all: RawImapClient[] = [];
  async get(i: number): Promise<RawImapClient> {
    const c = this.conns[i];
    if (c && !c.closed) return c;
    const n = await RawImapClient.connectTls(srv.imapsPort, srv.host);
    this.all.push(n);
    await n.greeting();
    // Generous: servers may delay logins from an address that just failed many (auth penalty).
    const l = await n.command("fzlogin", "LOGIN bob secret2", 20_000);
    if (l.status !== "OK") throw new Error(`fuzz login failed: ${l.tagged}`);
    const s = await n.command("fzselect", "SELECT Fuzz");
    if (s.status !== "OK") throw new Error(`SELECT Fuzz failed: ${s.tagged}`);
    this.conns[i] = n;
    return n;
  }
  drop(i: number) {
    this.conns[i]?.destroy();
    this.conns[i] = undefined;
  }
}

/** Sends one case and waits for its tagged response, answering continuations. */
async function runAuthCase(pool: AuthPool, k: AuthCase, tag: string, findings: Finding[]): Promise<string> {
  const c = await pool.get(k.conn);
  const sent = show(k.line);
  const finding = (problem: string) => findings.push({ label: k.label, tag, sent, problem, transcript: c.transcript.slice(-8) });
  c.transcript.push(`C: ${tag} ${sent}`);
  c.write(Buffer.concat([latin1(`${tag} `), k.line, latin1("\r\n")]));
  let continuations = 0;
  for (;;) {
    let r: string;
    try {
      // A silently discarded {n+} literal never completes; waiting long for it only costs time.
      r = await c.next(k.mayClose ? 1_000 : RESPONSE_TIMEOUT_MS);
    } catch (e) {
      if (c.closed) {
        if (!k.mayClose) finding("connection closed without a tagged response");
        pool.drop(k.conn);
        return "CLOSED";
      }
      if (k.mayClose) {
        // RFC 7888 lets the server read and discard the literal; it will never arrive, so give up.
        pool.drop(k.conn);
        return "SILENT";
      }
      finding(`no tagged response within ${RESPONSE_TIMEOUT_MS} ms`);
      pool.drop(k.conn);
      return "TIMEOUT";
    }
    if (STACK_TRACE.test(r)) finding(`response looks like a stack trace: ${JSON.stringify(r.slice(0, 300))}`);
    if (r.startsWith(`${tag} `)) {
      const status = r.slice(tag.length + 1).split(" ", 1)[0].toUpperCase();
      if (!["OK", "NO", "BAD"].includes(status)) finding(`tagged response with status ${status}`);
      if (k.mustRefuse && status === "OK") finding("malformed command got OK");
      // resp-text is TEXT-CHAR only: 7-bit, no NUL (RFC 3501 §9).
      if (/[\x00\u0080-\uffff]/.test(r)) finding(`tagged response contains NUL or 8-bit bytes: ${JSON.stringify(r.slice(0, 200))}`);
      return status;
    }
    if (r.startsWith("+")) {
      if (k.noContinuation) {
        finding(`over-limit literal was invited with a continuation: ${JSON.stringify(r)}`);
        pool.drop(k.conn);
        return "INVITED";
      }
      if (k.disconnectMidLiteral !== undefined) {
        c.write(Buffer.alloc(k.disconnectMidLiteral, "PARTIAL-LITERAL-MARKER "));
        await new Promise((res) => setTimeout(res, 20));
        pool.drop(k.conn);
        return "DISCONNECTED";
      }
      if (++continuations > 3) {
        finding("more than 3 continuation requests for one command");
        pool.drop(k.conn);
        return "LOOP";
      }
      const lit = /\{(\d+)\}$/.exec(k.line.toString("latin1"));
      if (lit && Number(lit[1]) <= 1_000_000 && continuations === 1) {
        c.write(Buffer.concat([Buffer.alloc(Number(lit[1]), "x"), latin1("\r\n")]));
      } else {
        // IDLE (or another command waiting for a line): end it.
        c.write("DONE\r\n");
      }
      continue;
    }
    if (r.startsWith("* BYE")) {
      // The server may say BYE for LOGOUT produced by a mutation; it then closes.
      continue;
    }
  }
}

describe("fuzzing a running server", () => {
  it(`survives unauthenticated garbage on the TLS and plain ports (seed ${SEED})`, async () => {
    const findings: Finding[] = [];
    const pool: Array<RawImapClient | undefined> = [undefined, undefined, undefined, undefined];
    const all: RawImapClient[] = [];
    const get = async (i: number) => {
      const c = pool[i];
      if (c && !c.closed) return c;
      const n = i < 2 ? await RawImapClient.connectTls(srv.imapsPort, srv.host) : await RawImapClient.connectPlain(srv.imapPort, srv.host);
      all.push(n);
      await n.greeting();
      pool[i] = n;
      return n;
    };
    const unauthArb = fc.record({
      conn: fc.nat(3),
      payload: fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 400 }).map((b) => Buffer.from(b)),
        fc.record({ t: fc.constantFrom(...UNAUTH_TEMPLATES), muts: fc.array(mutationArb, { minLength: 0, maxLength: 3 }) }).map(({ t, muts }) => latin1(`u1 ${mutate(t, muts)}\r\n`)),
        fc.constantFrom(
          latin1("u2 LOGIN {99999999999}\r\n"),
          latin1(`u3 LOGIN ${"(".repeat(10_000)}\r\n`),
          latin1(`u4 ${"A".repeat(LONG_LINE)}\r\n`),
          latin1("u5 AUTHENTICATE PLAIN\r\n!!!not-base64!!!\r\n"),
          latin1("u6 LOGIN {30}\r\nalice"),
        ),
      ),
    });
    let n = 0;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(unauthArb, async ({ conn, payload }) => {
        if (Date.now() - started > BUDGET_MS / 2) return true;
        const c = await get(conn);
        const sentinel = `zs${n++}`;
        c.write(payload);
        if (payload.toString("latin1") === "u6 LOGIN {30}\r\nalice") {
          // The client vanishes in the middle of a literal.
          c.destroy();
          pool[conn] = undefined;
          return true;
        }
        c.write(`\r\n${sentinel} NOOP\r\n`);
        try {
          const r = await c.readUntilTagged(sentinel, 1_500);
          for (const line of [...r.untagged, r.tagged]) {
            if (STACK_TRACE.test(line)) findings.push({ label: "unauth", tag: sentinel, sent: show(payload), problem: `stack trace: ${line.slice(0, 300)}`, transcript: c.transcript.slice(-6) });
          }
          // Nothing sent pre-auth may have logged the connection in.
          if (/^\S+ OK .*(LOGIN|AUTHENTICATE).*completed/i.test(r.untagged.join("\n"))) {
            findings.push({ label: "unauth", tag: sentinel, sent: show(payload), problem: "garbage logged in", transcript: c.transcript.slice(-6) });
          }
        } catch {
          // A literal announcement in random bytes can swallow the sentinel; start over on a fresh connection.
          for (const line of c.transcript) {
            if (STACK_TRACE.test(line)) findings.push({ label: "unauth", tag: sentinel, sent: show(payload), problem: `stack trace: ${line.slice(0, 300)}`, transcript: c.transcript.slice(-6) });
          }
          c.destroy();
          pool[conn] = undefined;
        }
        return true;
      }),
      { numRuns: UNAUTH_RUNS, seed: SEED },
    );
    for (const c of all) c.destroy();
    expect(srv.alive(), `server died; stderr tail:\n${srv.stderr().slice(-3000)}`).toBe(true);
    expect(findings, JSON.stringify(findings.slice(0, 10), null, 2)).toEqual([]);
  });

  it(`answers every authenticated fuzz command exactly once with OK/NO/BAD (seed ${SEED})`, async () => {
    const findings: Finding[] = [];
    const pool = new AuthPool();
    const tags: Array<{ tag: string; conn: RawImapClient }> = [];
    const outcomes: Record<string, Record<string, number>> = {};
    let n = 0;
    const started = Date.now();
    let budgetHit = false;
    await fc.assert(
      fc.asyncProperty(authCaseArb, async (k) => {
        if (Date.now() - started > BUDGET_MS) {
          budgetHit = true;
          return true;
        }
        const tag = `F${n++}`;
        const c = await pool.get(k.conn);
        tags.push({ tag, conn: c });
        const status = await runAuthCase(pool, k, tag, findings);
        (outcomes[k.label] ??= {})[status] = ((outcomes[k.label] ??= {})[status] ?? 0) + 1;
        return true;
      }),
      { numRuns: AUTH_RUNS, seed: SEED },
    );
    // Flush: every still-open connection must answer a NOOP, which also surfaces late duplicates.
    for (let i = 0; i < 3; i++) {
      const c = pool.conns[i];
      if (c && !c.closed) {
        const r = await c.command(`flush${i}`, "NOOP", RESPONSE_TIMEOUT_MS).catch((e: Error) => ({ status: `ERR ${e.message.slice(0, 200)}` }));
        if (r.status !== "OK") findings.push({ label: "flush", tag: `flush${i}`, sent: "NOOP", problem: `NOOP after fuzzing: ${r.status}`, transcript: c.transcript.slice(-8) });
      }
    }
    for (const { tag, conn } of tags) {
      const count = conn.transcript.filter((l) => l.startsWith(`S: ${tag} `)).length;
      if (count > 1) findings.push({ label: "duplicate", tag, sent: "", problem: `${count} tagged responses`, transcript: conn.transcript.filter((l) => l.includes(tag)).slice(0, 6) });
    }
    for (const c of pool.all) c.destroy();

    console.info(`fuzz seed ${SEED}; outcomes by case kind: ${JSON.stringify(outcomes)}`);
    expect(srv.alive(), `server died; stderr tail:\n${srv.stderr().slice(-3000)}`).toBe(true);
    expect(findings, `${findings.length} findings, first ones:\n${JSON.stringify(findings.slice(0, 8), null, 2)}`).toEqual([]);
    expect(budgetHit, `time budget of ${BUDGET_MS} ms used up after ${n} cases`).toBe(false);
  });

  it("the store is unchanged where the fuzzer could not reach, and memory stayed bounded", async () => {
    expect(srv.alive()).toBe(true);
    const alice = await connected(srv);
    try {
      expect(await snapshot(alice)).toEqual(aliceBefore);
      expect((await alice.list()).map((m) => m.path).sort()).toEqual(aliceMailboxes);
    } finally {
      await closeQuietly(alice);
    }
    const bob = await connected(srv, "bob", "secret2");
    try {
      expect(await snapshot(bob, ["INBOX"])).toEqual(bobInboxBefore);
      const paths = (await bob.list()).map((m) => m.path);
      expect(paths).toEqual(expect.arrayContaining(["INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive", "Fuzz"]));
      // A client that vanished mid-literal must not leave a partial message behind.
      await bob.mailboxOpen("Fuzz");
      expect(await bob.search({ body: "PARTIAL-LITERAL-MARKER" })).toEqual([]);
    } finally {
      await closeQuietly(bob);
    }
    // Invariant 5 (DESIGN.md): oversized literals and long lines must not exhaust memory.
    const status = readFileSync(`/proc/${srv.pid}/status`, "utf8");
    const rssKb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? /VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
    expect(rssKb, "peak resident memory of the server (kB)").toBeLessThan(768 * 1024);
  });
});
