import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { interceptWrites } from "../mailstore/test-support";
import { LevelMailboxHandle } from "../mailstore/mailbox-handle";
import { appendLine, harness, sampleMessage, type Client, type Harness } from "./session-test-support";

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.cleanup();
});

/** Appends `n` messages to INBOX through a separate session. */
async function seed(n: number, mailbox = "INBOX", flags = ""): Promise<void> {
  const c = await h.login();
  for (let i = 1; i <= n; i++) {
    const r = await sendAppend(c, `S${i}`, mailbox, sampleMessage(`message ${i}`), flags);
    expect(r).toMatch(new RegExp(`S${i} OK \\[APPENDUID \\d+ \\d+\\]`));
  }
  await c.cmd("S LOGOUT");
}

async function sendAppend(c: Client, tag: string, mailbox: string, message: string, flags = ""): Promise<string> {
  c.send(appendLine(tag, mailbox, message, flags));
  return c.waitTagged(tag);
}

function lines(text: string): string[] {
  return text.split("\r\n").filter((l) => l.length > 0);
}

describe("greeting and capabilities", () => {
  it("offers STARTTLS and LOGINDISABLED, not AUTH=PLAIN, on a plaintext connection", () => {
    const c = h.open({ secure: false, startTls: async () => undefined });
    const greeting = c.take();
    expect(greeting).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 [^\]]*\] charon ready\r\n$/);
    expect(greeting).toContain(" STARTTLS");
    expect(greeting).toContain(" LOGINDISABLED");
    expect(greeting).not.toContain("AUTH=PLAIN");
    for (const cap of ["LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT", "CHILDREN", "SPECIAL-USE"]) {
      expect(greeting).toContain(` ${cap}`);
    }
  });

  it("offers AUTH=PLAIN and no STARTTLS over TLS, and nothing to log in with after login", async () => {
    const c = h.open();
    const greeting = c.take();
    expect(greeting).toContain("AUTH=PLAIN");
    expect(greeting).not.toContain("STARTTLS");
    expect(greeting).not.toContain("LOGINDISABLED");
    const login = await c.cmd("a LOGIN alice secret");
    expect(login).toMatch(/^a OK \[CAPABILITY IMAP4rev1 [^\]]*\] Logged in\r\n$/);
    expect(login).not.toContain("AUTH=");
    const caps = await c.cmd("b CAPABILITY");
    expect(caps).toMatch(/^\* CAPABILITY IMAP4rev1 .*\r\nb OK CAPABILITY completed\r\n$/);
    expect(caps).not.toContain("AUTH=PLAIN");
  });

  it("refuses LOGIN and AUTHENTICATE without TLS", async () => {
    const c = h.open({ secure: false, startTls: async () => undefined });
    c.take();
    expect(await c.cmd("a LOGIN alice secret")).toBe("a NO [PRIVACYREQUIRED] Use STARTTLS before logging in\r\n");
    expect(await c.cmd("b AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==")).toMatch(/^b NO \[PRIVACYREQUIRED\]/);
    expect(c.session.sessionState).toBe("not-authenticated");
  });

  it("STARTTLS upgrades and discards commands pipelined behind it", async () => {
    let upgraded = 0;
    const c = h.open({ secure: false, startTls: async () => void upgraded++ });
    c.take();
    c.send("a STARTTLS\r\nb LOGIN alice secret\r\n");
    const out = await c.waitTagged("a");
    expect(out).toBe("a OK Begin TLS negotiation now\r\n");
    await c.settle();
    expect(upgraded).toBe(1);
    expect(c.take()).toBe("");
    const caps = await c.cmd("c CAPABILITY");
    expect(caps).toContain("AUTH=PLAIN");
    expect(caps).not.toContain("STARTTLS");
    expect(await c.cmd("d STARTTLS")).toMatch(/^d BAD/);
    expect(await c.cmd("e LOGIN alice secret")).toMatch(/^e OK/);
  });
});

describe("authentication", () => {
  it("LOGIN accepts quoted and literal credentials and rejects wrong ones", async () => {
    const c = h.open();
    c.take();
    expect(await c.cmd('a LOGIN "alice" "wrong"')).toBe("a NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
    c.send("b LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n");
    expect(await c.waitTagged("b")).toMatch(/^b OK \[CAPABILITY /);
    expect(await c.cmd("c LOGIN alice secret")).toBe("c BAD Already authenticated\r\n");
  });

  it("AUTHENTICATE PLAIN with an initial response", async () => {
    const c = h.open();
    c.take();
    const ir = Buffer.from("\0alice\0secret").toString("base64");
    expect(await c.cmd(`a AUTHENTICATE PLAIN ${ir}`)).toMatch(/^a OK \[CAPABILITY IMAP4rev1 /);
    expect(c.session.sessionState).toBe("authenticated");
  });

  it("AUTHENTICATE PLAIN with a continuation, cancel, bad base64 and foreign authzid", async () => {
    const c = h.open();
    c.take();
    c.send("a AUTHENTICATE PLAIN\r\n");
    expect(await c.waitFor("+ \r\n")).toBe("+ \r\n");
    c.send("*\r\n");
    expect(await c.waitTagged("a")).toBe("a BAD Authentication cancelled\r\n");

    c.send("b AUTHENTICATE PLAIN\r\n");
    await c.waitFor("+ \r\n");
    c.send("!!!not base64\r\n");
    expect(await c.waitTagged("b")).toBe("b BAD Invalid base64 response\r\n");

    const foreign = Buffer.from("bob\0alice\0secret").toString("base64");
    expect(await c.cmd(`c AUTHENTICATE PLAIN ${foreign}`)).toMatch(/^c NO \[AUTHORIZATIONFAILED\]/);
    const wrong = Buffer.from("\0alice\0nope").toString("base64");
    expect(await c.cmd(`d AUTHENTICATE PLAIN ${wrong}`)).toMatch(/^d NO \[AUTHENTICATIONFAILED\]/);

    c.send("e AUTHENTICATE PLAIN\r\n");
    await c.waitFor("+ \r\n");
    c.send(Buffer.from("alice\0alice\0secret").toString("base64") + "\r\n");
    expect(await c.waitTagged("e")).toMatch(/^e OK \[CAPABILITY /);
  });

  it("a preauthenticated session starts in the authenticated state", async () => {
    const c = h.open({ preauthenticated: { user: "alice" } });
    expect(c.take()).toMatch(/^\* PREAUTH \[CAPABILITY IMAP4rev1 /);
    const r = await c.cmd("a SELECT INBOX");
    expect(r).toContain("a OK [READ-WRITE]");
  });
});

describe("any-state commands", () => {
  it("NOOP, ID, LOGOUT", async () => {
    const c = h.open();
    c.take();
    expect(await c.cmd("a NOOP")).toBe("a OK NOOP completed\r\n");
    expect(await c.cmd('b ID ("name" "test")')).toMatch(/^\* ID \("name" "charon" .*\)\r\nb OK ID completed\r\n$/);
    expect(await c.cmd("c ID NIL")).toContain("c OK");
    expect(await c.cmd("d ID (\"name\")")).toMatch(/^d BAD/);
    expect(await c.cmd("e LOGOUT")).toBe("* BYE Logging out\r\ne OK LOGOUT completed\r\n");
    expect(c.transport.ended).toBe(true);
  });
});

describe("mailboxes", () => {
  it("LIST with wildcards, attributes and the delimiter query", async () => {
    const c = await h.login();
    expect(await c.cmd('a LIST "" ""')).toBe('* LIST (\\Noselect) "/" ""\r\na OK LIST completed\r\n');
    // NIL is a mailbox name like any other word: the pattern matches nothing here, it is not "".
    expect(await c.cmd('a2 LIST "" NIL')).toBe("a2 OK LIST completed\r\n");
    expect(await c.cmd("b CREATE Work/Projects/")).toBe("b OK CREATE completed\r\n");
    const top = await c.cmd('c LIST "" %');
    expect(lines(top)).toEqual([
      '* LIST (\\HasNoChildren) "/" "INBOX"',
      '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
      '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
      '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
      '* LIST (\\HasChildren) "/" "Work"',
      "c OK LIST completed",
    ]);
    expect(lines(await c.cmd('d LIST "Work/" *'))).toEqual(['* LIST (\\HasNoChildren) "/" "Work/Projects"', "d OK LIST completed"]);
    expect(lines(await c.cmd('e LIST "" inbox'))).toEqual(['* LIST (\\HasNoChildren) "/" "INBOX"', "e OK LIST completed"]);
  });

  it("encodes names in modified UTF-7", async () => {
    const c = await h.login();
    expect(await c.cmd('a CREATE "Entw&APw-rfe"')).toContain("a OK");
    expect(await c.cmd('b LIST "" "Entw*"')).toContain('"/" "Entw&APw-rfe"');
  });

  it("CREATE/RENAME/DELETE errors carry response codes", async () => {
    const c = await h.login();
    expect(await c.cmd("a CREATE INBOX")).toMatch(/^a NO \[ALREADYEXISTS\]/);
    expect(await c.cmd("b CREATE Sent")).toMatch(/^b NO \[ALREADYEXISTS\]/);
    expect(await c.cmd("c DELETE Nope")).toMatch(/^c NO \[NONEXISTENT\]/);
    expect(await c.cmd("d RENAME Nope Other")).toMatch(/^d NO \[NONEXISTENT\]/);
    expect(await c.cmd("e CREATE Old")).toContain("e OK");
    expect(await c.cmd("f RENAME Old New")).toContain("f OK");
    expect(await c.cmd('g LIST "" New')).toContain('"/" "New"');
    expect(await c.cmd("h DELETE New")).toContain("h OK");
    expect(await c.cmd('i LIST "" New')).toBe("i OK LIST completed\r\n");
  });

  it("SUBSCRIBE, LSUB with \\Noselect parents, NAMESPACE", async () => {
    const c = await h.login();
    await c.cmd("a CREATE a/b");
    await c.cmd("b SUBSCRIBE a/b");
    await c.cmd("c UNSUBSCRIBE Junk");
    expect(lines(await c.cmd('d LSUB "" a/%'))).toEqual(['* LSUB () "/" "a/b"', "d OK LSUB completed"]);
    const top = lines(await c.cmd('e LSUB "" %'));
    expect(top).toContain('* LSUB (\\Noselect) "/" "a"');
    expect(top).not.toContain('* LSUB () "/" "Junk"');
    expect(await c.cmd("f NAMESPACE")).toBe('* NAMESPACE (("" "/")) NIL NIL\r\nf OK NAMESPACE completed\r\n');
  });

  it("STATUS reports the requested items in order", async () => {
    await seed(3);
    const c = await h.login();
    expect(await c.cmd("a STATUS INBOX (UIDNEXT MESSAGES UNSEEN)")).toBe(
      "* STATUS \"INBOX\" (UIDNEXT 4 MESSAGES 3 UNSEEN 3)\r\na OK STATUS completed\r\n",
    );
    expect(await c.cmd("b STATUS INBOX (BOGUS)")).toMatch(/^b BAD/);
    expect(await c.cmd("c STATUS Nope (MESSAGES)")).toMatch(/^c NO \[NONEXISTENT\]/);
  });

  it("ENABLE answers with an empty ENABLED", async () => {
    const c = await h.login();
    expect(await c.cmd("a ENABLE CONDSTORE")).toBe("* ENABLED\r\na OK ENABLE completed\r\n");
    await c.cmd("b SELECT INBOX");
    expect(await c.cmd("c ENABLE CONDSTORE")).toBe("c BAD Not allowed while a mailbox is selected\r\n");
  });
});

describe("APPEND", () => {
  it("returns APPENDUID, TRYCREATE and TOOBIG", async () => {
    const c = await h.login();
    expect(await sendAppend(c, "a", "INBOX", sampleMessage("one"), "\\Seen $Important")).toMatch(/^a OK \[APPENDUID \d+ 1\] APPEND completed\r\n$/);
    expect(await sendAppend(c, "b", "Nowhere", sampleMessage("two"))).toMatch(/^b NO \[TRYCREATE\]/);
    const big = "x".repeat(600 * 1024);
    expect(await sendAppend(c, "c", "INBOX", big)).toMatch(/^c NO \[TOOBIG\]/);
    expect(await c.cmd("d NOOP")).toBe("d OK NOOP completed\r\n");
  });

  it("invites a synchronising literal and accepts a date-time", async () => {
    const c = await h.login();
    const msg = sampleMessage("dated");
    c.send(`a APPEND INBOX () "14-Jul-2024 02:44:25 -0700" {${msg.length}}\r\n`);
    expect(await c.waitFor("+ ")).toMatch(/^\+ /);
    c.send(msg + "\r\n");
    expect(await c.waitTagged("a")).toMatch(/^a OK \[APPENDUID/);
    await c.cmd("b SELECT INBOX");
    expect(await c.cmd("c FETCH 1 INTERNALDATE")).toMatch(/\* 1 FETCH \(INTERNALDATE "(14-Jul-2024 02:44:25 -0700|14-Jul-2024 09:44:25 \+0000)"\)/);
  });

  it("shows a message appended to the selected mailbox as EXISTS before the OK", async () => {
    const c = await h.login();
    await c.cmd("a SELECT INBOX");
    const r = await sendAppend(c, "b", "INBOX", sampleMessage("x"));
    expect(r).toMatch(/^\* 1 EXISTS\r\n\* 1 RECENT\r\nb OK \[APPENDUID \d+ 1\]/);
  });

  it("refuses the oversized literal at the framing level with TOOBIG", async () => {
    const c = h.open({ limits: { maxLineLength: 8192, maxLiteralSize: 1000, maxAppendSize: 1000 } });
    c.take();
    await c.cmd("a LOGIN alice secret");
    c.send("b APPEND INBOX {5000}\r\n");
    expect(await c.waitTagged("b")).toMatch(/^b NO \[TOOBIG\]/);
    expect(await c.cmd("c NOOP")).toBe("c OK NOOP completed\r\n");
  });
});

describe("SELECT", () => {
  it("writes exactly the RFC 3501 responses", async () => {
    await seed(2);
    const c = await h.login();
    await c.cmd("x STORE 1 +FLAGS \\Seen"); // not selected: refused
    const r = await c.cmd("a SELECT INBOX");
    expect(lines(r)).toEqual([
      "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
      "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted",
      "* 2 EXISTS",
      "* 2 RECENT",
      "* OK [UNSEEN 1] First unseen",
      expect.stringMatching(/^\* OK \[UIDVALIDITY \d+\] UIDs valid$/),
      "* OK [UIDNEXT 3] Predicted next UID",
      "a OK [READ-WRITE] SELECT completed",
    ]);
  });

  it("EXAMINE is read-only with empty PERMANENTFLAGS, and \\Recent goes to one session only", async () => {
    await seed(1);
    const c = await h.login();
    const e = lines(await c.cmd("a EXAMINE INBOX"));
    expect(e).toContain("* OK [PERMANENTFLAGS ()] Read-only mailbox");
    // EXAMINE reports \Recent as SELECT would, but must not clear it (RFC 3501 §6.3.2).
    expect(e).toContain("* 1 RECENT");
    expect(e[e.length - 1]).toBe("a OK [READ-ONLY] EXAMINE completed");
    expect(await c.cmd("b STORE 1 +FLAGS \\Seen")).toMatch(/^b NO/);
    expect(lines(await c.cmd("b2 FETCH 1 FLAGS"))[0]).toBe("* 1 FETCH (FLAGS (\\Recent))");
    const looker = await h.login();
    expect(lines(await looker.cmd("b3 EXAMINE INBOX"))).toContain("* 1 RECENT");
    const s = lines(await c.cmd("c SELECT INBOX"));
    expect(s).toContain("* 1 RECENT");
    const other = await h.login();
    expect(lines(await other.cmd("d SELECT INBOX"))).toContain("* 0 RECENT");
  });

  it("a failed SELECT leaves the session unselected", async () => {
    const c = await h.login();
    await c.cmd("a SELECT INBOX");
    expect(await c.cmd("b SELECT Nope")).toMatch(/^b NO \[NONEXISTENT\]/);
    expect(await c.cmd("c FETCH 1 FLAGS")).toBe("c BAD No mailbox selected\r\n");
    expect(c.session.sessionState).toBe("authenticated");
  });
});

describe("FETCH", () => {
  it("returns every attribute", async () => {
    await seed(1);
    const c = await h.login();
    await c.cmd("a EXAMINE INBOX");
    const r = await c.cmd(
      "b FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (Subject From)] BODY.PEEK[TEXT]<0.5>)",
    );
    const msg = sampleMessage("message 1");
    expect(r).toContain("* 1 FETCH (UID 1 FLAGS (\\Recent) INTERNALDATE \"");
    expect(r).toContain(` RFC822.SIZE ${Buffer.byteLength(msg)} `);
    expect(r).toContain(
      'ENVELOPE ("Mon, 3 Feb 2025 23:30:00 -0800" "message 1" (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Bob" NIL "bob" "example.org")) NIL NIL NIL "<message1@example.org>")',
    );
    expect(r).toMatch(/ BODY \("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" \d+ \d+\) /i);
    expect(r).toMatch(/ BODYSTRUCTURE \("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" \d+ \d+ NIL NIL NIL NIL\) /i);
    const fields = "Subject: message 1\r\nFrom: Alice <alice@example.org>\r\n\r\n";
    const fieldsReordered = "From: Alice <alice@example.org>\r\nSubject: message 1\r\n\r\n";
    expect(r).toContain(`BODY[HEADER.FIELDS (Subject From)] {${fields.length}}\r\n`);
    expect(r.includes(fields) || r.includes(fieldsReordered)).toBe(true);
    expect(r).toContain("BODY[TEXT]<0> {5}\r\nHello)\r\nb OK FETCH completed\r\n");
  });

  it("answers ENVELOPE, BODY and BODYSTRUCTURE of each message alike on every FETCH", async () => {
    await seed(2);
    const c = await h.login();
    await c.cmd("a EXAMINE INBOX");
    const fetched = async (cmd: string) => lines(await c.cmd(cmd)).filter((l) => l.startsWith("* "));
    const body = /[ (]BODY (\("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" \d+ \d+\))/i;
    const structure = /[ (]BODYSTRUCTURE (\("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" \d+ \d+ NIL NIL NIL NIL\))/i;
    const first = await fetched("b FETCH 1:2 (BODY)");
    const second = await fetched("c FETCH 1:2 (BODYSTRUCTURE ENVELOPE)");
    const third = await fetched("d FETCH 1:2 (ENVELOPE BODY BODYSTRUCTURE)");
    for (const i of [0, 1]) {
      const envelope = `ENVELOPE ("Mon, 3 Feb 2025 23:30:00 -0800" "message ${i + 1}" `;
      expect(second[i]).toContain(envelope);
      expect(third[i]).toContain(envelope);
      expect(third[i]!.match(body)?.[1]).toBe(first[i]!.match(body)?.[1]);
      expect(third[i]!.match(structure)?.[1]).toBe(second[i]!.match(structure)?.[1]);
      expect(third[i]).toMatch(structure);
    }
  });

  it("RFC822 forms, and BODY[] without PEEK sets \\Seen and reports FLAGS", async () => {
    await seed(2);
    const c = await h.login();
    await c.cmd("a SELECT INBOX");
    const msg = sampleMessage("message 1");
    const header = msg.slice(0, msg.indexOf("\r\n\r\n") + 4);
    const r1 = await c.cmd("b FETCH 1 RFC822.HEADER");
    expect(r1).toBe(`* 1 FETCH (RFC822.HEADER {${header.length}}\r\n${header})\r\nb OK FETCH completed\r\n`);
    const r2 = await c.cmd("c FETCH 1 BODY[]");
    expect(r2).toBe(`* 1 FETCH (BODY[] {${msg.length}}\r\n${msg} FLAGS (\\Seen \\Recent))\r\nc OK FETCH completed\r\n`);
    const r3 = await c.cmd("d UID FETCH 2 RFC822.TEXT");
    expect(r3).toBe("* 2 FETCH (UID 2 RFC822.TEXT {14}\r\nHello there.\r\n FLAGS (\\Seen \\Recent))\r\nd OK FETCH completed\r\n");
    const r4 = await c.cmd("e FETCH 1:2 FLAGS");
    expect(lines(r4)).toEqual(["* 1 FETCH (FLAGS (\\Seen \\Recent))", "* 2 FETCH (FLAGS (\\Seen \\Recent))", "e OK FETCH completed"]);
    const r5 = await c.cmd("f FETCH 1 RFC822");
    expect(r5).toBe(`* 1 FETCH (RFC822 {${msg.length}}\r\n${msg})\r\nf OK FETCH completed\r\n`);
  });

  it("answers a section that does not exist with the empty string, as UW-IMAP and Dovecot do", async () => {
    await seed(1);
    const c = await h.login();
    await c.cmd("a EXAMINE INBOX");
    // The sample is one text/plain part: part 1 is its body, part 2 and 1.HEADER do not exist.
    expect(await c.cmd("b FETCH 1 (BODY.PEEK[2] BODY.PEEK[1.HEADER] BODY.PEEK[2.MIME]<0.10>)")).toBe(
      '* 1 FETCH (BODY[2] "" BODY[1.HEADER] "" BODY[2.MIME]<0> "")\r\nb OK FETCH completed\r\n',
    );
    expect(await c.cmd("c FETCH 1 BODY.PEEK[1]")).toBe("* 1 FETCH (BODY[1] {14}\r\nHello there.\r\n)\r\nc OK FETCH completed\r\n");
  });

  it("FETCH by sequence refuses numbers that do not exist; UID FETCH ignores them", async () => {
    await seed(2);
    const c = await h.login();
    await c.cmd("a SELECT INBOX");
    expect(await c.cmd("b FETCH 3 FLAGS")).toMatch(/^b BAD/);
    expect(lines(await c.cmd("c UID FETCH 2:99 FLAGS"))).toEqual(["* 2 FETCH (UID 2 FLAGS (\\Recent))", "c OK FETCH completed"]);
    expect(lines(await c.cmd("d UID FETCH 50:* FLAGS"))).toEqual(["* 2 FETCH (UID 2 FLAGS (\\Recent))", "d OK FETCH completed"]);
    expect(await c.cmd("e FETCH 2:* (UID)")).toBe("* 2 FETCH (UID 2)\r\ne OK FETCH completed\r\n");
    await c.cmd("f SELECT Trash");
    expect(await c.cmd("g UID FETCH 1:* FLAGS")).toBe("g OK FETCH completed\r\n");
    expect(await c.cmd("h FETCH * FLAGS")).toMatch(/^h BAD/);
  });
});

describe("STORE and EXPUNGE", () => {
  it("reports flags, honours .SILENT, and refuses \\Recent", async () => {
    await seed(3);
    const c = await h.login();
    await c.cmd("a SELECT INBOX");
    expect(lines(await c.cmd("b STORE 1:2 +FLAGS (\\Flagged)"))).toEqual([
      "* 1 FETCH (FLAGS (\\Flagged \\Recent))",
      "* 2 FETCH (FLAGS (\\Flagged \\Recent))",
      "b OK STORE completed",
    ]);
    expect(lines(await c.cmd("c UID STORE 2 -FLAGS \\Flagged"))).toEqual(["* 2 FETCH (FLAGS (\\Recent) UID 2)", "c OK STORE completed"]);
    expect(await c.cmd("d STORE 3 FLAGS.SILENT (\\Seen)")).toBe("d OK STORE completed\r\n");
    expect(await c.cmd("e STORE 1 +FLAGS \\Recent")).toMatch(/^e BAD/);
    expect(await c.cmd("f NOOP")).toBe("f OK NOOP completed\r\n");
    const kw = lines(await c.cmd("g STORE 1 +FLAGS $Label1"));
    expect(kw[0]).toBe("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)");
    expect(kw[1]).toBe("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1 \\*)] Flags permitted");
    expect(kw[2]).toMatch(/^\* 1 FETCH \(FLAGS \((\\Flagged \$Label1|\$Label1 \\Flagged) \\Recent\)\)$/);
  });

  it("numbers EXPUNGE responses relative to the previous one", async () => {
    await seed(5);
    const c = await h.login();
    await c.cmd("a SELECT INBOX");
    await c.cmd("b STORE 2,4:5 +FLAGS.SILENT \\Deleted");
    const r = lines(await c.cmd("c EXPUNGE"));
    // All five were \Recent here; the new count follows the EXPUNGEs, as Dovecot sends it.
    expect(r).toEqual(["* 5 EXPUNGE", "* 4 EXPUNGE", "* 2 EXPUNGE", "* 2 RECENT", "c OK EXPUNGE completed"]);
    expect(lines(await c.cmd("d FETCH 1:* (UID)"))).toEqual(["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)", "d OK FETCH completed"]);
    expect(await c.cmd("e NOOP")).toBe("e OK NOOP completed\r\n");
  });

  it("UID EXPUNGE removes only the listed UIDs; CLOSE expunges silently", async () => {
    await seed(3);
    const c = await h.login();
    await c.cmd("a SELECT INBOX");
    await c.cmd("b STORE 1:3 +FLAGS.SILENT \\Deleted");
    expect(lines(await c.cmd("c UID EXPUNGE 2"))).toEqual(["* 2 EXPUNGE", "* 2 RECENT", "c OK EXPUNGE completed"]);
    expect(await c.cmd("d CLOSE")).toBe("d OK CLOSE completed\r\n");
    expect(await c.cmd("e STATUS INBOX (MESSAGES)")).toContain("(MESSAGES 0)");
  });

  it("UNSELECT does not expunge", async () => {
    await seed(1);
    const c = await h.login();
    await c.cmd("a SELECT INBOX");
    await c.cmd("b STORE 1 +FLAGS.SILENT \\Deleted");
    expect(await c.cmd("c UNSELECT")).toBe("c OK UNSELECT completed\r\n");
    expect(await c.cmd("d STATUS INBOX (MESSAGES)")).toContain("(MESSAGES 1)");
  });
});

describe("SEARCH", () => {
  it("returns sequence numbers or UIDs and refuses unknown charsets", async () => {
    await seed(3);
    const c = await h.login();
    await c.cmd("a SELECT INBOX");
    await c.cmd("b STORE 2 +FLAGS.SILENT \\Seen");
    expect(await c.cmd("c SEARCH UNSEEN")).toBe("* SEARCH 1 3\r\nc OK SEARCH completed\r\n");
    expect(await c.cmd("d UID SEARCH SEEN")).toBe("* SEARCH 2\r\nd OK SEARCH completed\r\n");
    expect(await c.cmd("e SEARCH SUBJECT nothing-like-this")).toBe("* SEARCH\r\ne OK SEARCH completed\r\n");
    expect(await c.cmd("f SEARCH CHARSET KOI8-R ALL")).toMatch(/^f NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/);
    expect(await c.cmd("g SEARCH 2:*")).toBe("* SEARCH 2 3\r\ng OK SEARCH completed\r\n");
    // A string argument spelled NIL is the word NIL (an astring), not a BAD.
    expect(await c.cmd("h SEARCH SUBJECT NIL")).toBe("* SEARCH\r\nh OK SEARCH completed\r\n");
    expect(await c.cmd("i SEARCH OR FROM NIL BODY nil")).toBe("* SEARCH\r\ni OK SEARCH completed\r\n");
  });
});

describe("COPY and MOVE", () => {
  it("COPY answers COPYUID; a missing destination gets TRYCREATE", async () => {
    await seed(3);
    const c = await h.login();
    await c.cmd("a SELECT INBOX");
    expect(await c.cmd("b COPY 1:2 Archive")).toMatch(/^b OK \[COPYUID \d+ 1:2 1:2\] COPY completed\r\n$/);
    expect(await c.cmd("c UID COPY 3 Archive")).toMatch(/^c OK \[COPYUID \d+ 3 3\]/);
    expect(await c.cmd("d COPY 1 Nowhere")).toMatch(/^d NO \[TRYCREATE\]/);
    expect(await c.cmd("e STATUS Archive (MESSAGES)")).toContain("(MESSAGES 3)");
  });

  it("MOVE sends COPYUID untagged, then EXPUNGEs, then OK", async () => {
    await seed(3);
    const c = await h.login();
    await c.cmd("a SELECT INBOX");
    const r = lines(await c.cmd("b MOVE 2:3 Trash"));
    expect(r[0]).toMatch(/^\* OK \[COPYUID \d+ 2:3 1:2\] Moved$/);
    expect(r.slice(1)).toEqual(["* 3 EXPUNGE", "* 2 EXPUNGE", "* 1 RECENT", "b OK MOVE completed"]);
    expect(lines(await c.cmd("c UID MOVE 1 Trash")).slice(1)).toEqual(["* 1 EXPUNGE", "* 0 RECENT", "c OK MOVE completed"]);
    expect(await c.cmd("d NOOP")).toBe("d OK NOOP completed\r\n");
  });
});

describe("concurrent sessions", () => {
  it("each sees the other's appends, flag changes and expunges exactly once", async () => {
    await seed(2);
    const a = await h.login();
    const b = await h.login();
    await a.cmd("a1 SELECT INBOX");
    await b.cmd("b1 SELECT INBOX");
    await sendAppend(a, "a2", "INBOX", sampleMessage("third"));
    expect(lines(await b.cmd("b2 NOOP"))).toEqual(["* 3 EXISTS", "* 0 RECENT", "b2 OK NOOP completed"]);
    await a.cmd("a3 STORE 1 +FLAGS (\\Answered)");
    expect(lines(await b.cmd("b3 NOOP"))).toEqual(["* 1 FETCH (FLAGS (\\Answered) UID 1)", "b3 OK NOOP completed"]);
    await a.cmd("a4 STORE 2 +FLAGS.SILENT (\\Deleted)");
    expect(lines(await a.cmd("a5 EXPUNGE"))).toEqual(["* 2 EXPUNGE", "* 2 RECENT", "a5 OK EXPUNGE completed"]);
    // The \Deleted flag of a message that is gone anyway is not worth a FETCH.
    expect(lines(await b.cmd("b4 NOOP"))).toEqual(["* 2 EXPUNGE", "b4 OK NOOP completed"]);
    expect(await a.cmd("a6 NOOP")).toBe("a6 OK NOOP completed\r\n");
    expect(await b.cmd("b5 NOOP")).toBe("b5 OK NOOP completed\r\n");
  });

  it("STORE .SILENT still reports a change by another session that the client had not been told", async () => {
    await seed(2);
    const a = await h.login();
    const b = await h.login();
    await a.cmd("a1 SELECT INBOX");
    await b.cmd("b1 SELECT INBOX");
    expect(lines(await a.cmd("a2 FETCH 1 FLAGS"))).toEqual(["* 1 FETCH (FLAGS (\\Recent))", "a2 OK FETCH completed"]);
    await b.cmd("b2 STORE 1 +FLAGS (\\Seen)");
    // a knows () plus what it added; the \Seen from b is news to it.
    expect(lines(await a.cmd("a3 STORE 1 +FLAGS.SILENT (\\Flagged)"))).toEqual([
      expect.stringMatching(/^\* 1 FETCH \(FLAGS \((\\Seen \\Flagged|\\Flagged \\Seen) \\Recent\) UID 1\)$/),
      "a3 OK STORE completed",
    ]);
    // What a was told is now the truth: nothing more to report, to a or to b's own echo.
    expect(await a.cmd("a4 NOOP")).toBe("a4 OK NOOP completed\r\n");
    await b.cmd("b3 STORE 2 FLAGS.SILENT (\\Answered)");
    await a.cmd("a5 NOOP");
    // A silent change b could predict exactly is not echoed back to b.
    expect(await b.cmd("b4 NOOP")).toBe("b4 OK NOOP completed\r\n");
  });

  it("every session gets the same FLAGS list: a keyword stays defined after the message that had it is expunged", async () => {
    await seed(2);
    const a = await h.login();
    const b = await h.login();
    await a.cmd("a1 SELECT INBOX");
    await b.cmd("b1 SELECT INBOX");
    await a.cmd("a2 STORE 1 +FLAGS.SILENT ($Foo \\Deleted)");
    await a.cmd("a3 EXPUNGE");
    // b never numbered message 1 with $Foo, but a knows $Foo: b is told of it too.
    expect(lines(await b.cmd("b2 NOOP"))).toEqual([
      "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Foo)",
      "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Foo \\*)] Flags permitted",
      "* 1 EXPUNGE",
      "b2 OK NOOP completed",
    ]);
    // No message has $Foo now; a session that selects later is given it all the same.
    const c = await h.login();
    expect(lines(await c.cmd("c1 SELECT INBOX"))).toContain("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Foo)");
    expect(await b.cmd("b3 NOOP")).toBe("b3 OK NOOP completed\r\n");
  });

  it("holds EXPUNGE during FETCH, STORE and SEARCH and sends it after a later command", async () => {
    await seed(3);
    const a = await h.login();
    const b = await h.login();
    await a.cmd("a1 SELECT INBOX");
    await b.cmd("b1 SELECT INBOX");
    await a.cmd("a2 STORE 1 +FLAGS.SILENT \\Deleted");
    await a.cmd("a3 EXPUNGE");
    await b.cmd("b0 NOOP"); // the FLAGS change and the EXPUNGE
    await sendAppend(a, "a4", "INBOX", sampleMessage("fourth"));
    await a.cmd("a5 STORE 1 +FLAGS.SILENT \\Deleted");
    await a.cmd("a6 EXPUNGE");
    const f = await b.cmd("b2 FETCH 1:* (UID)");
    expect(f).not.toMatch(/\* \d+ EXPUNGE/);
    expect(f).toContain("* 3 EXISTS");
    // Message 1 (UID 2) is gone from the store; its number stays valid until the EXPUNGE, and it is served as it was.
    expect(lines(f).filter((l) => l.includes("FETCH"))).toEqual(["* 1 FETCH (UID 2)", "* 2 FETCH (UID 3)", "b2 OK FETCH completed"]);
    // The per-message path (a body part, which also sets \Seen first): the removed one gets its body, and no flag change.
    const g = await b.cmd("b2b FETCH 1:* (BODY[HEADER.FIELDS (SUBJECT)])");
    expect(g).toContain("* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {22}\r\nSubject: message 2\r\n\r\n)");
    expect(g).toContain("* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {22}\r\nSubject: message 3\r\n\r\n FLAGS (\\Seen))");
    expect(g).toContain("b2b OK FETCH completed");
    // A removed message the handle has no record of (none should happen): FETCH answers NO and UID FETCH,
    // which ignores a UID that does not exist (RFC 9051 §6.4.9), OK; both say [EXPUNGEISSUED].
    const forget = vi.spyOn(LevelMailboxHandle.prototype, "removedMessage").mockReturnValue(undefined);
    try {
      const n = await b.cmd("b2c FETCH 1:* (UID)");
      expect(n).toContain("* 2 FETCH (UID 3)");
      expect(n).not.toContain("(UID 2)");
      expect(n).toContain("b2c NO [EXPUNGEISSUED]");
      const u = await b.cmd("b2d UID FETCH 1:* (UID)");
      expect(u).toContain("* 2 FETCH (UID 3)");
      expect(u).toContain("b2d OK [EXPUNGEISSUED]");
    } finally {
      forget.mockRestore();
    }
    // SEARCH still counts message 1 (it keeps its number until the EXPUNGE) and matches it as it was removed.
    expect(await b.cmd("b3 SEARCH ALL")).toBe("* SEARCH 1 2 3\r\nb3 OK SEARCH completed\r\n");
    expect(await b.cmd("b3b SEARCH DELETED")).toBe("* SEARCH 1\r\nb3b OK SEARCH completed\r\n");
    expect(await b.cmd("b3c UID SEARCH SUBJECT \"message 2\"")).toBe("* SEARCH 2\r\nb3c OK SEARCH completed\r\n");
    expect(await b.cmd("b4 STORE 3 +FLAGS.SILENT \\Flagged")).toBe("b4 OK STORE completed\r\n");
    // Message 1 is gone: the change is made to the rest, and the answer is OK, flagged [EXPUNGEISSUED].
    expect(lines(await b.cmd("b4b STORE 1:2 +FLAGS (\\Answered)"))).toEqual([
      "* 2 FETCH (FLAGS (\\Answered \\Seen))",
      "b4b OK [EXPUNGEISSUED] STORE completed; some of the messages no longer exist",
    ]);
    expect(lines(await b.cmd("b5 NOOP"))).toEqual(["* 1 EXPUNGE", "b5 OK NOOP completed"]);
    expect(lines(await b.cmd("b6 FETCH 1:* (UID)"))).toEqual(["* 1 FETCH (UID 3)", "* 2 FETCH (UID 4)", "b6 OK FETCH completed"]);
  });

  it("IDLE pushes changes as they happen and ends with DONE", async () => {
    await seed(1);
    const a = await h.login();
    const b = await h.login();
    await a.cmd("a1 SELECT INBOX");
    await b.cmd("b1 SELECT INBOX");
    b.send("b2 IDLE\r\n");
    expect(await b.waitFor("+ idling\r\n")).toBe("+ idling\r\n");
    await sendAppend(a, "a2", "INBOX", sampleMessage("pushed"));
    expect(await b.waitFor(/\* \d RECENT\r\n/)).toMatch(/^\* 2 EXISTS\r\n\* [01] RECENT\r\n$/);
    await a.cmd("a3 STORE 1 +FLAGS \\Deleted");
    await a.cmd("a4 EXPUNGE");
    expect(await b.waitFor("* 1 EXPUNGE\r\n")).toContain("* 1 FETCH (FLAGS (\\Deleted) UID 1)\r\n* 1 EXPUNGE\r\n");
    b.send("DONE\r\n");
    expect(await b.waitTagged("b2")).toBe("b2 OK IDLE terminated\r\n");
    expect(await b.cmd("b3 NOOP")).toBe("b3 OK NOOP completed\r\n");
  });

  it("IDLE refuses anything but DONE, also when pipelined in one chunk", async () => {
    const c = await h.login();
    c.send("a IDLE\r\nnope\r\nb NOOP\r\n");
    const r = await c.waitTagged("b");
    expect(r).toBe("+ idling\r\na BAD Expected DONE to end IDLE\r\nb OK NOOP completed\r\n");
    c.send("c IDLE\r\nDONE\r\nd NOOP\r\n");
    expect(await c.waitTagged("d")).toBe("+ idling\r\nc OK IDLE terminated\r\nd OK NOOP completed\r\n");
  });
});

describe("more session behaviour", () => {
  it("holds IDLE updates while the client is not reading, and sends them on drain", async () => {
    await seed(1);
    const a = await h.login();
    const b = await h.login();
    await b.cmd("b1 SELECT INBOX");
    b.send("b2 IDLE\r\n");
    await b.waitFor("+ idling\r\n");
    b.transport.accepting = false;
    await sendAppend(a, "a1", "INBOX", sampleMessage("one"));
    expect(await b.waitFor("* 2 EXISTS\r\n")).toContain("* 2 EXISTS\r\n");
    await sendAppend(a, "a2", "INBOX", sampleMessage("two"));
    await b.settle();
    expect(b.take()).toBe("");
    b.transport.drained();
    expect(await b.waitFor("* 3 EXISTS\r\n")).toMatch(/^\* 3 EXISTS\r\n/);
    b.send("DONE\r\n");
    expect(await b.waitTagged("b2")).toBe("b2 OK IDLE terminated\r\n");
  });

  it("deleting the selected mailbox unselects it instead of ending the session", async () => {
    const c = await h.login();
    await c.cmd("a CREATE Box");
    await c.cmd("b SELECT Box");
    expect(await c.cmd("c DELETE Box")).toBe("c OK DELETE completed\r\n");
    expect(c.session.sessionState).toBe("authenticated");
    expect(await c.cmd("d NOOP")).toBe("d OK NOOP completed\r\n");
  });

  it("another session deleting the selected mailbox ends this one with BYE", async () => {
    const a = await h.login();
    const b = await h.login();
    await a.cmd("a1 CREATE Box");
    await b.cmd("b1 SELECT Box");
    await a.cmd("a2 DELETE Box");
    b.send("b2 NOOP\r\n");
    const r = await b.waitFor("* BYE");
    expect(r).toMatch(/^\* BYE /);
    expect(b.transport.ended).toBe(true);
  });

  it("survives binary garbage", async () => {
    const c = h.open();
    c.take();
    const junk = Buffer.alloc(300);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 131 + 7) % 256;
    c.send(junk);
    c.send("\r\n\0\0 {x}\r\n(((\r\na NOOP\r\n");
    const out = await c.waitTagged("a");
    expect(out).toMatch(/a OK NOOP completed\r\n$/);
    expect(out.split("\r\n").filter((l) => l && !l.startsWith("a ")).every((l) => /^(\*|[^ ]+) BAD /.test(l))).toBe(true);
  });
});

/** A session observer that records each finished command as "NAME STATUS". */
function recordingObserver() {
  const done: string[] = [];
  const observer = {
    sessionOpened: () => undefined,
    sessionClosed: () => undefined,
    authFailed: () => undefined,
    commandDone: (name: string, status: string) => void done.push(`${name} ${status}`),
  };
  return { done, observer };
}

describe("pipelining and bad input", () => {
  it("runs pipelined commands strictly in order", async () => {
    await seed(2);
    const c = await h.login();
    c.send("p1 SELECT INBOX\r\np2 STORE 1 +FLAGS (\\Seen)\r\np3 FETCH 1 FLAGS\r\np4 STATUS Sent (MESSAGES)\r\np5 NOOP\r\n");
    const out = await c.waitTagged("p5");
    const tags = lines(out)
      .filter((l) => !l.startsWith("*"))
      .map((l) => l.split(" ")[0]);
    expect(tags).toEqual(["p1", "p2", "p3", "p4", "p5"]);
    expect(out).toContain("* 1 FETCH (FLAGS (\\Seen \\Recent))\r\np3 OK");
  });

  it("runs a pipelined STORE, STORE, EXPUNGE while the first commits, and answers in order", async () => {
    await seed(3);
    const c = await h.login();
    await c.cmd("s SELECT INBOX");
    const stats = h.store.store.queue.stats;
    const before = stats.batches;
    c.send("p1 STORE 1 +FLAGS (\\Seen)\r\np2 STORE 2 +FLAGS (\\Deleted)\r\np3 EXPUNGE\r\np4 FETCH 1 FLAGS\r\np5 LIST \"\" Sent\r\n");
    const out = await c.waitTagged("p5");
    expect(lines(out)).toEqual([
      "* 1 FETCH (FLAGS (\\Seen \\Recent))",
      "p1 OK STORE completed",
      "* 2 FETCH (FLAGS (\\Deleted \\Recent))",
      "p2 OK STORE completed",
      "* 2 EXPUNGE",
      "* 2 RECENT",
      "p3 OK EXPUNGE completed",
      "* 1 FETCH (FLAGS (\\Seen \\Recent))",
      "p4 OK FETCH completed",
      '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
      "p5 OK LIST completed",
    ]);
    // Three ops in at most two fsync'd batches: the first goes out at once, the
    // other two join the next. Waiting for each commit in turn took three.
    expect(stats.batches - before).toBeLessThanOrEqual(2);
    expect(stats.writes).toBeGreaterThanOrEqual(3);
  });

  /**
   * Holds the store's writes, as a slow disk would, while `send` pipelines a
   * command and a NOOP: the NOOP must complete while `held` (the first
   * command's completion) has not. Then lets the disk go.
   */
  async function whileCommitsHeld(send: () => void, done: string[], held: string): Promise<void> {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    interceptWrites(h.store.store.db, (real) => gate.then(real));
    send();
    try {
      await vi.waitFor(() => expect(done).toContain("NOOP OK"));
      expect(done).not.toContain(held);
    } finally {
      open();
    }
  }

  it("runs the command pipelined behind an EXPUNGE while the EXPUNGE commits", async () => {
    await seed(2);
    const { done, observer } = recordingObserver();
    const c = await h.login("alice", { observer });
    await c.cmd("s SELECT INBOX");
    await c.cmd("d STORE 2 +FLAGS (\\Deleted)");
    // The disk holds the EXPUNGE's batch until the NOOP behind it has run.
    await whileCommitsHeld(() => c.send("x1 EXPUNGE\r\nx2 NOOP\r\n"), done, "EXPUNGE OK");
    const out = await c.waitTagged("x2");
    expect(lines(out)).toEqual(["* 2 EXPUNGE", "* 1 RECENT", "x1 OK EXPUNGE completed", "x2 OK NOOP completed"]);
    expect(done.slice(-2)).toEqual(["NOOP OK", "EXPUNGE OK"]);
  });

  it("runs the command pipelined behind a FETCH that sets \\Seen while the flag commits", async () => {
    await seed(1);
    const { done, observer } = recordingObserver();
    const c = await h.login("alice", { observer });
    await c.cmd("s SELECT INBOX");
    await whileCommitsHeld(() => c.send("f1 FETCH 1 (FLAGS BODY[HEADER.FIELDS (SUBJECT)])\r\nf2 NOOP\r\n"), done, "FETCH OK");
    const out = await c.waitTagged("f2");
    expect(lines(out)[0]).toMatch(/^\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}$/);
    expect(lines(out).filter((l) => /^f\d /.test(l))).toEqual(["f1 OK FETCH completed", "f2 OK NOOP completed"]);
  });

  it("answers NO for a pipelined STORE whose commit fails, after the replies before it", async () => {
    await seed(2);
    const logged: Array<{ msg?: string; user?: string }> = [];
    const log = pino({ level: "info" }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    const { done, observer } = recordingObserver();
    const c = await h.login("alice", { log, observer });
    await c.cmd("s SELECT INBOX");
    let calls = 0;
    // The second write fails, as a full disk would.
    interceptWrites(h.store.store.db, (real) => (++calls === 2 ? Promise.reject(new Error("disk full")) : real()));
    c.send("f1 STORE 1 +FLAGS (\\Flagged)\r\nf2 NOOP\r\n");
    await c.waitTagged("f2");
    c.send("f3 STORE 2 +FLAGS (\\Flagged)\r\nf4 NOOP\r\n");
    const out = await c.waitTagged("f4");
    const tagged = lines(out).filter((l) => !l.startsWith("*"));
    expect(tagged[0]).toBe("f3 NO [SERVERBUG] Internal error, try again later");
    expect(tagged[1]).toMatch(/^f4 (OK|NO)/);
    // The user's store is now unusable; handlers log through the session's logger, which names the user.
    expect(await c.cmd("f5 STORE 1 -FLAGS (\\Flagged)")).toMatch(/^f5 NO \[SERVERBUG\]/m);
    // The metrics count each held reply with the status it went out with.
    expect(done.filter((d) => d.startsWith("STORE"))).toEqual(["STORE OK", "STORE NO", "STORE NO"]);
    const failures = logged.filter((l) => l.msg === "store failure");
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures.every((l) => l.user === "alice")).toBe(true);
  });

  it("answers unknown commands, bad arguments and wrong states with BAD and carries on", async () => {
    const c = h.open();
    c.take();
    expect(await c.cmd("a FROBNICATE")).toBe("a BAD Unknown command FROBNICATE\r\n");
    expect(await c.cmd("b SELECT INBOX")).toBe("b BAD Log in first\r\n");
    await c.cmd("c LOGIN alice secret");
    expect(await c.cmd("d SELECT")).toMatch(/^d BAD Expected mailbox name/);
    expect(await c.cmd("e UID FROB 1")).toMatch(/^e BAD/);
    expect(await c.cmd('f LIST "unterminated')).toMatch(/^f BAD/);
    expect(await c.cmd("g NOOP extra")).toMatch(/^g BAD/);
    await c.cmd("h SELECT INBOX");
    expect(await c.cmd("i FETCH 1:x FLAGS")).toMatch(/^i BAD/);
    expect(await c.cmd("j FETCH 1 (FLAGS")).toMatch(/^j BAD/);
    expect(await c.cmd("k STORE 1 FROB (\\Seen)")).toMatch(/^k BAD/);
    expect(await c.cmd("l NOOP")).toBe("l OK NOOP completed\r\n");
  });

  it("answers an over-long line and continues", async () => {
    const c = h.open({ limits: { maxLineLength: 200, maxLiteralSize: 1000, maxAppendSize: 1000 } });
    c.take();
    c.send(`a NOOP ${"x".repeat(500)}\r\n`);
    c.send("b NOOP\r\n");
    const out = await c.waitTagged("b");
    expect(out).toMatch(/^(a|\*) BAD [^\r\n]*\r\nb OK NOOP completed\r\n$/);
  });

  it("pauses reading when too many commands are queued and resumes when they ran", async () => {
    const c = h.open({ maxQueuedCommands: 4 });
    c.take();
    let burst = "";
    for (let i = 0; i < 20; i++) burst += `n${i} NOOP\r\n`;
    c.send(burst);
    expect(c.transport.paused).toBe(1);
    await c.waitTagged("n19");
    expect(c.transport.resumed).toBe(1);
  });

  it("pauses reading while a large literal waits behind a running command", async () => {
    const c = await h.login("alice", { maxQueuedBytes: 10_000 });
    const body = sampleMessage("big", "y".repeat(20_000));
    c.send("a NOOP\r\n" + appendLine("b", "INBOX", body));
    expect(c.transport.paused).toBe(1);
    expect(await c.waitTagged("b")).toMatch(/^a OK NOOP completed\r\nb OK \[APPENDUID/);
    expect(c.transport.resumed).toBe(1);
  });

  it("waits for drain before running the next command", async () => {
    const c = await h.login();
    c.transport.accepting = false;
    c.send("a NOOP\r\nb NOOP\r\n");
    expect(await c.waitTagged("a")).toBe("a OK NOOP completed\r\n");
    await c.settle();
    expect(c.take()).toBe("");
    c.transport.drained();
    expect(await c.waitTagged("b")).toBe("b OK NOOP completed\r\n");
  });
});
