import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RawImapClient, STACK_TRACE } from "./support/raw-client";
import { removeDir, startServer, type RunningServer } from "./support/server";
import { simpleMessage } from "./support/messages";

let srv: RunningServer;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
function imapDateMs(s: string): number {
  const m = /^\s?(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(s);
  if (!m) return NaN;
  const offset = (m[7] === "-" ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  return Date.UTC(+m[3], MONTHS.indexOf(m[2]), +m[1], +m[4], +m[5], +m[6]) - offset * 60_000;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1]);
}
const open: RawImapClient[] = [];

beforeAll(async () => {
  srv = await startServer();
});

afterEach(() => {
  for (const c of open.splice(0)) c.destroy();
});

afterAll(async () => {
  await srv?.stop();
  removeDir(srv?.dataDir);
});

async function tlsClient(): Promise<{ c: RawImapClient; greeting: string }> {
  const c = await RawImapClient.connectTls(srv.imapsPort, srv.host);
  open.push(c);
  const greeting = await c.greeting();
  return { c, greeting };
}

async function plainClient(): Promise<{ c: RawImapClient; greeting: string }> {
  const c = await RawImapClient.connectPlain(srv.imapPort, srv.host);
  open.push(c);
  const greeting = await c.greeting();
  return { c, greeting };
}

async function loggedIn(user = "alice", pass = "secret1"): Promise<RawImapClient> {
  const { c } = await tlsClient();
  const r = await c.command("l1", `LOGIN ${user} ${pass}`);
  expect(r.status, c.transcript.join("\n")).toBe("OK");
  return c;
}

/** Fails with the transcript when `res.status` is not one of `want`. */
function expectStatus(c: RawImapClient, res: { status: string }, ...want: string[]) {
  expect(want, `transcript:\n${c.transcript.slice(-12).join("\n")}`).toContain(res.status);
}

describe("greeting and pre-authentication", () => {
  it("IMAPS greeting carries CAPABILITY with IMAP4rev1 and no LOGINDISABLED/STARTTLS", async () => {
    const { greeting } = await tlsClient();
    expect(greeting).toMatch(/^\* OK \[CAPABILITY [^\]]*\bIMAP4rev1\b[^\]]*\]/);
    expect(greeting).not.toMatch(/LOGINDISABLED|STARTTLS/);
  });

  it("plain port: LOGINDISABLED advertised, LOGIN and AUTHENTICATE refused before STARTTLS, accepted after", async () => {
    const { c, greeting } = await plainClient();
    const caps = (await c.command("c1", "CAPABILITY")).untagged.join(" ") + " " + greeting;
    expect(caps).toMatch(/\bSTARTTLS\b/);
    expect(caps).toMatch(/\bLOGINDISABLED\b/);
    const login = await c.command("c2", "LOGIN alice secret1");
    expectStatus(c, login, "NO", "BAD");
    expect(login.tagged).not.toMatch(/secret1/);
    const auth = await c.command("c3", `AUTHENTICATE PLAIN ${Buffer.from("\0alice\0secret1").toString("base64")}`);
    expectStatus(c, auth, "NO", "BAD");
    // Unauthenticated mailbox commands are refused in any case.
    expectStatus(c, await c.command("c4", "SELECT INBOX"), "NO", "BAD");

    const tls = await c.startTls("c5");
    expectStatus(c, tls, "OK");
    expect(c.encrypted).toBe(true);
    const caps2 = (await c.command("c6", "CAPABILITY")).untagged.join(" ");
    expect(caps2).toMatch(/\bIMAP4rev1\b/);
    expect(caps2).not.toMatch(/LOGINDISABLED|\bSTARTTLS\b/);
    expectStatus(c, await c.command("c7", "LOGIN alice secret1"), "OK");
    expectStatus(c, await c.command("c8", "STARTTLS"), "BAD", "NO");
  });

  it("STARTTLS discards plaintext pipelined after the command (no command injection)", async () => {
    const { c } = await plainClient();
    c.write("s1 STARTTLS\r\ns2 LOGIN alice secret1\r\n");
    const r = await c.readUntilTagged("s1");
    expectStatus(c, r, "OK");
    // Give the server a moment to (wrongly) answer s2 in plaintext.
    await new Promise((res) => setTimeout(res, 200));
    expect(c.pendingBytes().toString("latin1"), "plaintext after STARTTLS OK").toBe("");
    // Safe outcomes: the server drops the injected bytes and the handshake succeeds, or it
    // refuses the handshake. Unsafe: s2 runs, in plaintext or inside the TLS session.
    let upgraded = true;
    try {
      await c.upgrade(2_000);
    } catch {
      upgraded = false;
    }
    if (!upgraded) return;
    const noop = await c.command("s3", "NOOP");
    expectStatus(c, noop, "OK");
    expect(noop.untagged.join("\n")).not.toMatch(/^s2 /m);
    expectStatus(c, await c.command("s4", "SELECT INBOX"), "NO", "BAD");
  });

  it("LOGIN with synchronizing literals for user and password", async () => {
    const { c } = await tlsClient();
    c.write("a1 LOGIN {5}\r\n");
    await c.expectContinuation();
    c.write("alice {7}\r\n");
    await c.expectContinuation();
    c.write("secret1\r\n");
    expectStatus(c, await c.readUntilTagged("a1"), "OK");
  });

  it("AUTHENTICATE PLAIN with a continuation, and `*` cancels it with BAD", async () => {
    const { c } = await tlsClient();
    c.write("a1 AUTHENTICATE PLAIN\r\n");
    await c.expectContinuation();
    c.write("*\r\n");
    expectStatus(c, await c.readUntilTagged("a1"), "BAD");
    c.write("a2 AUTHENTICATE PLAIN\r\n");
    await c.expectContinuation();
    c.write(Buffer.from("\0alice\0secret1").toString("base64") + "\r\n");
    expectStatus(c, await c.readUntilTagged("a2"), "OK");
  });

  it("wrong credentials get NO and the connection stays usable", async () => {
    const { c } = await tlsClient();
    const r = await c.command("a1", "LOGIN alice nottheone");
    expectStatus(c, r, "NO");
    expect(r.tagged).toMatch(/^a1 NO \[AUTHENTICATIONFAILED\]/);
    expectStatus(c, await c.command("a2", 'LOGIN "alice" "secret1"'), "OK");
  });
});

describe("authenticated protocol details", () => {
  it("pipelined commands in one write get tagged responses in order", async () => {
    const c = await loggedIn();
    c.write("p1 NOOP\r\np2 CAPABILITY\r\np3 SELECT INBOX\r\np4 SEARCH ALL\r\np5 CHECK\r\n");
    const tags: string[] = [];
    for (;;) {
      const r = await c.next();
      const m = /^(p\d) (OK|NO|BAD)/.exec(r);
      if (m) {
        tags.push(m[1]);
        expect(m[2], r).toBe("OK");
        if (m[1] === "p5") break;
      }
    }
    expect(tags).toEqual(["p1", "p2", "p3", "p4", "p5"]);
  });

  it("APPEND with a synchronizing literal {n}, then with LITERAL+ {n+}", async () => {
    const c = await loggedIn();
    expectStatus(c, await c.command("b0", "CREATE RawAppend"), "OK");
    const m1 = Buffer.from(simpleMessage({ subject: "sync literal", body: "bytes \u00e9\u00e8 8bit" }), "utf8");
    c.write(`b1 APPEND RawAppend (\\Seen) "05-Jan-2021 10:11:12 +0100" {${m1.length}}\r\n`);
    await c.expectContinuation();
    c.write(Buffer.concat([m1, Buffer.from("\r\n")]));
    const r1 = await c.readUntilTagged("b1");
    expectStatus(c, r1, "OK");
    expect(r1.tagged).toMatch(/^b1 OK \[APPENDUID \d+ \d+\]/);

    const m2 = Buffer.from(simpleMessage({ subject: "nonsync literal", body: "plus" }));
    c.write(Buffer.concat([Buffer.from(`b2 APPEND RawAppend {${m2.length}+}\r\n`), m2, Buffer.from("\r\n")]));
    const r2 = await c.readUntilTagged("b2");
    expect(r2.untagged.filter((u) => u.startsWith("+")), "no continuation for {n+}").toEqual([]);
    expectStatus(c, r2, "OK");

    expectStatus(c, await c.command("b3", "SELECT RawAppend"), "OK");
    const f = await c.command("b4", "FETCH 1:2 (FLAGS INTERNALDATE RFC822.SIZE)");
    expectStatus(c, f, "OK");
    expect(f.untagged).toHaveLength(2);
    expect(f.untagged[0]).toMatch(/^\* 1 FETCH \(/);
    expect(f.untagged[0].replace(/ ?\\Recent/, "")).toMatch(/FLAGS \(\\Seen\)/);
    // Same instant as sent; the zone shown is the server's choice.
    expect(imapDateMs(/INTERNALDATE "([^"]+)"/.exec(f.untagged[0])?.[1] ?? "")).toBe(Date.UTC(2021, 0, 5, 9, 11, 12));
    expect(f.untagged[0]).toContain(`RFC822.SIZE ${m1.length}`);
    expect(f.untagged[1]).toContain(`RFC822.SIZE ${m2.length}`);

    const body = await c.command("b5", "FETCH 1 BODY.PEEK[]");
    expect(body.untagged[0]).toBe(`* 1 FETCH (BODY[] {${m1.length}}\r\n${m1.toString("utf8")})`);
  });

  it("FETCH BODY[]<0.5> returns the partial with origin <0>; BODY[] sets \\Seen, BODY.PEEK does not", async () => {
    const c = await loggedIn();
    expectStatus(c, await c.command("f0", "CREATE RawPartial"), "OK");
    const msg = simpleMessage({ subject: "partial", body: "0123456789" });
    c.write(`f1 APPEND RawPartial {${Buffer.byteLength(msg)}+}\r\n${msg}\r\n`);
    expectStatus(c, await c.readUntilTagged("f1"), "OK");
    expectStatus(c, await c.command("f2", "SELECT RawPartial"), "OK");

    const p = await c.command("f3", "FETCH 1 BODY.PEEK[]<0.5>");
    expectStatus(c, p, "OK");
    expect(p.untagged).toEqual([`* 1 FETCH (BODY[]<0> {5}\r\n${msg.slice(0, 5)})`]);

    const p2 = await c.command("f4", "FETCH 1 BODY.PEEK[TEXT]<3.4>");
    expect(p2.untagged).toEqual(["* 1 FETCH (BODY[TEXT]<3> {4}\r\n3456)"]);

    const flags0 = await c.command("f5", "FETCH 1 FLAGS");
    expect(flags0.untagged[0]).not.toMatch(/\\Seen/);

    const full = await c.command("f6", "FETCH 1 BODY[]<0.5>");
    expectStatus(c, full, "OK");
    const flags1 = await c.command("f7", "FETCH 1 FLAGS");
    expect(flags1.untagged.join("\n") + full.untagged.join("\n")).toMatch(/\\Seen/);
  });

  it("UID FETCH always includes UID; UID SEARCH returns UIDs", async () => {
    const c = await loggedIn();
    expectStatus(c, await c.command("u0", "CREATE RawUid"), "OK");
    for (const i of [1, 2, 3]) {
      const m = simpleMessage({ subject: `uid ${i}`, body: `n${i}` });
      c.write(`u${i} APPEND RawUid {${Buffer.byteLength(m)}+}\r\n${m}\r\n`);
      expectStatus(c, await c.readUntilTagged(`u${i}`), "OK");
    }
    const sel = await c.command("u4", "SELECT RawUid");
    expect(sel.untagged).toContain("* 3 EXISTS");
    expect(sel.untagged.some((u) => /^\* OK \[UIDVALIDITY \d+\]/.test(u))).toBe(true);
    expect(sel.untagged.some((u) => /^\* OK \[UIDNEXT \d+\]/.test(u))).toBe(true);
    expect(sel.tagged).toMatch(/^u4 OK \[READ-WRITE\]/);
    const uf = await c.command("u5", "UID FETCH 1:* FLAGS");
    expect(uf.untagged).toHaveLength(3);
    for (const line of uf.untagged) expect(line).toMatch(/\bUID \d+\b/);
    const us = await c.command("u6", "UID SEARCH SUBJECT \"uid 2\"");
    expect(us.untagged).toEqual([expect.stringMatching(/^\* SEARCH \d+$/)]);
    // A UID range beyond the highest UID still matches the last message ("*" semantics, RFC 3501 §6.4.8).
    const beyond = await c.command("u7", "UID FETCH 4294967295:* UID");
    expectStatus(c, beyond, "OK");
    expect(beyond.untagged).toHaveLength(1);
  });

  it("NO [TOOBIG] (or BAD) for an oversized literal; no continuation; connection stays usable", async () => {
    const c = await loggedIn();
    c.write("t1 APPEND INBOX {99999999999}\r\n");
    const r = await c.readUntilTagged("t1");
    expect(r.untagged.filter((u) => u.startsWith("+")), "must not invite an over-limit literal").toEqual([]);
    expectStatus(c, r, "NO", "BAD");
    expect(r.tagged).toMatch(/\[TOOBIG\]/);
    expectStatus(c, await c.command("t2", "NOOP"), "OK");
  });

  it("an over-limit {n+} literal is discarded without buffering it, or refused with a close", async () => {
    const c = await loggedIn();
    const before = rssKb(srv.pid);
    // RFC 7888 §4: the server either reads and discards the literal, or answers BAD/NO [TOOBIG] and
    // closes. Either way it must not hold the bytes: 48 MiB are sent, memory must not grow by that.
    c.write("t3 APPEND INBOX {99999999999+}\r\n");
    const chunk = Buffer.alloc(1024 * 1024, "z");
    for (let i = 0; i < 48 && !c.closed; i++) {
      c.write(chunk);
      if (i % 8 === 7) await new Promise((res) => setTimeout(res, 20));
    }
    let status = "SILENT";
    try {
      status = (await c.readUntilTagged("t3", 2_000)).status;
    } catch {
      status = c.closed ? "CLOSED" : "SILENT";
    }
    expect(["NO", "BAD", "CLOSED", "SILENT"]).toContain(status);
    const grownKb = rssKb(srv.pid) - before;
    expect(grownKb, "server RSS growth while a client streamed 48 MiB of an over-limit literal (kB)").toBeLessThan(40 * 1024);
    expect(srv.alive()).toBe(true);
  });

  it("IDLE: + continuation, DONE completes with OK", async () => {
    const c = await loggedIn();
    expectStatus(c, await c.command("i0", "SELECT INBOX"), "OK");
    c.write("i1 IDLE\r\n");
    await c.expectContinuation();
    c.write("DONE\r\n");
    expectStatus(c, await c.readUntilTagged("i1"), "OK");
  });

  it("NAMESPACE, ID, LIST patterns, STATUS, and modified UTF-7 mailbox names", async () => {
    const c = await loggedIn();
    const ns = await c.command("n1", "NAMESPACE");
    expect(ns.untagged).toEqual(['* NAMESPACE (("" "/")) NIL NIL']);
    const id = await c.command("n2", 'ID ("name" "raw-client")');
    expectStatus(c, id, "OK");
    expect(id.untagged[0]).toMatch(/^\* ID (\(|NIL)/);

    expectStatus(c, await c.command("n3", 'CREATE "&AOk-t&AOk-/Juli"'), "OK");
    const l = await c.command("n4", 'LIST "" "&AOk-t&AOk-*"');
    expect(l.untagged).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\* LIST \([^)]*\) "\/" "?&AOk-t&AOk-"?$/), expect.stringMatching(/^\* LIST \([^)]*\) "\/" "?&AOk-t&AOk-\/Juli"?$/)]),
    );
    const pct = await c.command("n5", 'LIST "" "%"');
    expect(pct.untagged.some((u) => u.endsWith("/Juli") || u.endsWith('/Juli"'))).toBe(false);
    const del = await c.command("n6", 'LIST "" ""');
    expect(del.untagged).toEqual(['* LIST (\\Noselect) "/" ""']);
    const st = await c.command("n7", "STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)");
    expectStatus(c, st, "OK");
    expect(st.untagged[0]).toMatch(/^\* STATUS "?INBOX"? \((?=.*MESSAGES \d+)(?=.*UIDNEXT \d+)(?=.*UIDVALIDITY \d+)(?=.*UNSEEN \d+).*\)$/);
    // A raw 8-bit mailbox name is not valid modified UTF-7 (RFC 3501 §5.1.3).
    const bad = await c.command("n8", Buffer.from('CREATE "caf\u00e9"', "utf8").toString("latin1"));
    expectStatus(c, bad, "NO", "BAD");
  });

  it("malformed commands get BAD, never a stack trace, and the session goes on", async () => {
    const c = await loggedIn();
    expectStatus(c, await c.command("m-sel", "SELECT Archive"), "OK");
    const cases = [
      "FOO",
      "FETCH",
      "FETCH 1:* (FLAGS",
      "STORE 1 +FLAGS (\\NotASystemFlag)",
      "SEARCH (((ALL)",
      "FETCH 0 FLAGS",
      "UID",
      "LIST \"\"",
      "APPEND INBOX (\\Seen) \"99-Foo-2020 99:99:99 +9999\" {1+}\r\nx",
      "SEARCH CHARSET UTF-8 SUBJECT", // missing argument
      "SELECT", // last: a failed SELECT leaves no mailbox selected (RFC 3501 §6.3.1)
    ];
    let n = 0;
    for (const text of cases) {
      const tag = `m${n++}`;
      const r = await c.command(tag, text);
      expect(["BAD", "NO"], `${tag} ${text} → ${r.tagged}`).toContain(r.status);
      for (const line of [...r.untagged, r.tagged]) expect(line).not.toMatch(STACK_TRACE);
    }
    // Commands that need a selected mailbox fail with BAD/NO in the authenticated state.
    for (const text of ["FETCH 1 FLAGS", "EXPUNGE", "CLOSE", "SEARCH ALL"]) {
      const tag = `s${n++}`;
      const r = await c.command(tag, text);
      expect(["BAD", "NO"], `${tag} ${text} → ${r.tagged}`).toContain(r.status);
    }
    // An untagged garbage line gets `* BAD` (or a tagged BAD), not silence.
    c.write("\r\n");
    c.write("*\r\n");
    expectStatus(c, await c.command("z1", "NOOP"), "OK");
    expect(srv.alive()).toBe(true);
  });

  it("LOGOUT sends BYE then the tagged OK and closes", async () => {
    const c = await loggedIn();
    const r = await c.command("o1", "LOGOUT");
    expect(r.untagged.some((u) => u.startsWith("* BYE"))).toBe(true);
    expectStatus(c, r, "OK");
    expect(await c.waitClosed()).toBe(true);
  });
});

describe("a server started with --max-message-size 64KiB", () => {
  let small: RunningServer;
  beforeAll(async () => {
    small = await startServer({ extraArgs: ["--max-message-size", "64KiB"] });
  });
  afterAll(async () => {
    await small?.stop();
    removeDir(small?.dataDir);
  });

  async function smallLoggedIn(): Promise<RawImapClient> {
    const c = await RawImapClient.connectTls(small.imapsPort, small.host);
    open.push(c);
    await c.greeting();
    expectStatus(c, await c.command("l1", "LOGIN alice secret1"), "OK");
    return c;
  }

  it("refuses an over-limit synchronizing APPEND literal with NO [TOOBIG] and no continuation", async () => {
    const c = await smallLoggedIn();
    c.write("t1 APPEND INBOX {100000}\r\n");
    const r = await c.readUntilTagged("t1");
    expect(r.untagged.filter((u) => u.startsWith("+")), "over-limit literal must not be invited").toEqual([]);
    expect(r.tagged).toMatch(/^t1 (NO|BAD) \[TOOBIG\]/);
    expectStatus(c, await c.command("t2", "NOOP"), "OK");
  });

  it("discards an over-limit {n+} literal, answers [TOOBIG], and the next command works", async () => {
    const c = await smallLoggedIn();
    const body = Buffer.alloc(100_000, "y");
    c.write(Buffer.concat([Buffer.from("t3 APPEND INBOX {100000+}\r\n"), body, Buffer.from("\r\nt4 NOOP\r\n")]));
    const r = await c.readUntilTagged("t3");
    expect(r.tagged).toMatch(/^t3 (NO|BAD) \[TOOBIG\]/);
    // The literal's bytes must not have been read as commands.
    const r4 = await c.readUntilTagged("t4");
    expect(r.untagged.concat(r4.untagged).filter((u) => /BAD/.test(u))).toEqual([]);
    expectStatus(c, r4, "OK");
    const st = await c.command("t5", "STATUS INBOX (MESSAGES)");
    expect(st.untagged[0]).toMatch(/MESSAGES 0\)/);
  });

  it("accepts an APPEND just under the limit", async () => {
    const c = await smallLoggedIn();
    const head = "From: a@example.org\r\nSubject: near limit\r\n\r\n";
    const msg = head + "z".repeat(60_000 - head.length) + "\r\n";
    c.write(`t6 APPEND INBOX {${msg.length}}\r\n`);
    await c.expectContinuation();
    c.write(msg + "\r\n");
    const r = await c.readUntilTagged("t6");
    expectStatus(c, r, "OK");
  });
});
