import { execFile } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, removeDir, startServer, type RunningServer } from "./support/server";

type Step = { ok: true; value: any } | { ok: false; error: string; trace: string };

let srv: RunningServer;
let r: Record<string, Step>;

function runPython(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "python3",
      [path.join(REPO_ROOT, "test", "clients", "imaplib_flow.py"), ...args],
      { timeout: 45_000, maxBuffer: 10 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`imaplib_flow.py failed: ${err.message}\nstderr:\n${stderr}\nstdout:\n${stdout}`));
        else resolve(stdout);
      },
    );
  });
}

/** The value of a step that must have succeeded; fails with the Python error otherwise. */
function ok(name: string): any {
  const s = r[name];
  expect(s, `step ${name} missing from the script output`).toBeDefined();
  if (!s.ok) expect.fail(`step ${name} raised ${s.error}`);
  return s.value;
}

function okTyp(name: string): any[] {
  const v = ok(name);
  expect(v.typ, `${name}: ${JSON.stringify(v)}`).toBe("OK");
  return v.data;
}

/** imaplib returns FETCH data as [ [prefix, literal], ")" ] pairs or plain strings; flatten to text. */
function flat(data: any): string {
  if (Array.isArray(data)) return data.map(flat).join(" ");
  return data == null ? "" : String(data);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** RFC 3501 date-time "dd-Mon-yyyy hh:mm:ss +zzzz" → epoch ms. */
function imapDateMs(s: string): number {
  const m = /^\s?(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(s);
  if (!m) throw new Error(`not an RFC 3501 date-time: ${s}`);
  const offset = (m[7] === "-" ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  return Date.UTC(+m[3], MONTHS.indexOf(m[2]), +m[1], +m[4], +m[5], +m[6]) - offset * 60_000;
}

beforeAll(async () => {
  srv = await startServer();
  const out = await runPython([srv.host, String(srv.imapsPort), "alice", "secret1", String(srv.imapPort)]);
  r = JSON.parse(out);
});

afterAll(async () => {
  await srv?.stop();
  removeDir(srv?.dataDir);
});

describe("python imaplib against charon dev", () => {
  it("greets, logs in and advertises IMAP4rev1 capabilities", () => {
    expect(ok("greeting")).toMatch(/^\* OK/);
    const before = flat(okTyp("capability_before_login"));
    expect(before).toMatch(/\bIMAP4rev1\b/);
    // Over TLS, LOGIN is allowed, so LOGINDISABLED must not be advertised (RFC 3501 §6.2.3).
    expect(before).not.toMatch(/LOGINDISABLED/);
    expect(before).not.toMatch(/\bSTARTTLS\b/);
    expect(before).toMatch(/AUTH=PLAIN/);
    okTyp("login");
    const after = flat(okTyp("capability_after_login"));
    for (const cap of ["IMAP4rev1", "UIDPLUS", "IDLE", "LITERAL\\+", "MOVE", "SPECIAL-USE", "NAMESPACE"]) {
      expect(after).toMatch(new RegExp(`\\b${cap}`));
    }
  });

  it("LIST shows the default mailboxes", () => {
    const lines = okTyp("list").map(String);
    const names = lines.map((l) => l.replace(/^\(.*?\) (?:"."|NIL) /, "").replace(/^"(.*)"$/, "$1")).sort();
    expect(names).toEqual(["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]);
    expect(lines.find((l) => /"?Sent"?$/.test(l))).toMatch(/\\Sent/);
  });

  it("CREATE and SELECT report EXISTS, UIDVALIDITY, UIDNEXT, FLAGS and PERMANENTFLAGS", () => {
    okTyp("create");
    expect(okTyp("select")).toEqual(["0"]);
    // imaplib pops EXISTS into the SELECT result; the rest stays in untagged_responses.
    const u = ok("select_untagged");
    expect(u.UIDVALIDITY?.[0]).toMatch(/^\d+$/);
    expect(u.UIDNEXT?.[0]).toMatch(/^\d+$/);
    expect(flat(u.FLAGS)).toMatch(/\\Seen/);
    expect(flat(u.PERMANENTFLAGS)).toMatch(/\\\*/);
  });

  it("APPEND with flags and a date; FETCH RFC822 returns the exact bytes", () => {
    const a1 = okTyp("append1");
    expect(flat(a1)).toMatch(/\[APPENDUID \d+ 1\]/);
    okTyp("append2");
    expect(ok("fetch_rfc822_matches")).toBe(true);
    const flags = flat(okTyp("fetch_flags"));
    expect(flags).toMatch(/1 \(FLAGS \((?=[^)]*\\Flagged)(?=[^)]*\$Python)(?=[^)]*\\Seen)[^)]*\)\)/);
    expect(flags.replace(/ ?\\Recent/g, "")).toMatch(/2 \(FLAGS \(\)\)/);
    const idate = flat(okTyp("fetch_internaldate"));
    const sent = String(ok("append_internaldate_sent")).replace(/^"|"$/g, "");
    // The instant must survive; the zone the server shows it in is its choice.
    const shown = /INTERNALDATE "([^"]+)"/.exec(idate)?.[1];
    expect(shown, idate).toBeDefined();
    expect(imapDateMs(shown!)).toBe(imapDateMs(sent));
  });

  it("FETCH BODY.PEEK[HEADER.FIELDS (SUBJECT)], BODYSTRUCTURE and ENVELOPE", () => {
    const h = flat(okTyp("fetch_header_subject"));
    expect(h).toContain("BODY[HEADER.FIELDS (SUBJECT)]");
    expect(h).toContain("Subject: imaplib hello\r\n\r\n");
    expect(h).toContain("Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen?=\r\n\r\n");
    const bs = flat(okTyp("fetch_bodystructure"));
    expect(bs).toMatch(/BODYSTRUCTURE \("TEXT" "PLAIN" \("CHARSET" "utf-8"\) NIL NIL "8BIT" \d+ \d+/i);
    const env = flat(okTyp("fetch_envelope"));
    expect(env).toContain('"Fri, 3 Jun 2022 08:09:10 +0000" "imaplib hello"');
    expect(env).toContain('(("Python Sender" NIL "py" "example.org"))');
    expect(env).toContain('"<imaplib-1@example.org>"');
  });

  it("SEARCH UNSEEN, SUBJECT, CHARSET UTF-8 with a literal, and BADCHARSET", () => {
    // FETCH RFC822 of message 1 (not a PEEK) set \Seen on it (RFC 3501 §6.4.5).
    expect(okTyp("search_unseen")).toEqual(["2"]);
    expect(okTyp("search_subject")).toEqual(["1"]);
    // The RFC 2047 encoded subject must match its decoded UTF-8 form (RFC 3501 §6.4.4).
    expect(okTyp("search_charset_utf8")).toEqual(["2"]);
    expect(okTyp("search_charset_utf8_body")).toEqual(["1"]);
    const bad = r.search_bad_charset;
    // imaplib returns a NO as a value and raises only on BAD.
    if (!bad.ok) throw new Error(`search_bad_charset raised: ${bad.error}`);
    expect(bad.value.typ, "SEARCH CHARSET X-NO-SUCH-CHARSET must be refused").toBe("NO");
    expect(JSON.stringify(bad.value.data)).toMatch(/BADCHARSET/);
  });

  it("STORE +FLAGS and +FLAGS.SILENT", () => {
    expect(flat(okTyp("store_add_seen"))).toMatch(/2 \(FLAGS \(.*\\Seen.*\)\)/);
    expect(okTyp("search_unseen_after_store")).toEqual([""]);
    okTyp("store_silent");
    const f = flat(okTyp("fetch_flags_after_store"));
    expect(f).toMatch(/1 \(FLAGS \((?=[^)]*\\Answered)(?=[^)]*\\Flagged)[^)]*\)\)/);
  });

  it("COPY with COPYUID, STATUS of the target, UID commands and EXPUNGE", () => {
    okTyp("create_copy_target");
    expect(flat(okTyp("copy"))).toMatch(/\[COPYUID \d+ 1:2 \d+:\d+\]|\[COPYUID \d+ 1,2 \d+,\d+\]/);
    const st = flat(okTyp("status_copy_target"));
    expect(st).toMatch(/MESSAGES 2/);
    expect(st).toMatch(/UNSEEN 0/);
    expect(okTyp("uid_search_all")).toEqual(["1 2"]);
    const uf = flat(okTyp("uid_fetch"));
    expect(uf).toMatch(/1 \(UID 1 FLAGS|1 \(FLAGS \([^)]*\) UID 1\)/);
    okTyp("uid_store_deleted");
    expect(flat(okTyp("expunge"))).toBe("1");
    expect(okTyp("after_expunge_search")).toEqual(["2"]);
    // UID COPY of a UID that does not exist is not an error (RFC 3501 §6.4.8).
    okTyp("uid_copy_nonexistent");
  });

  it("an unknown FETCH attribute gets BAD", () => {
    const s = r.fetch_bad_syntax;
    expect(s.ok).toBe(false);
    if (!s.ok) expect(s.error).toMatch(/BAD/);
  });

  it("CLOSE, EXAMINE of the copy target and LOGOUT", () => {
    okTyp("close");
    expect(ok("state_after_close")).toBe("AUTH");
    expect(okTyp("select_copy")).toEqual(["2"]);
    const t = flat(okTyp("copy_target_fetch"));
    expect(t).toContain("Subject: imaplib hello");
    expect(t).toMatch(/\\Flagged/);
    expect(ok("logout").typ).toBe("BYE");
  });

  it("STARTTLS on the plain port: LOGIN refused before TLS, accepted after", () => {
    const g = ok("plain_greeting");
    expect(g.capabilities).toContain("STARTTLS");
    expect(g.capabilities).toContain("LOGINDISABLED");
    const before = ok("plain_login_before_starttls");
    expect(before.refused, "LOGIN before STARTTLS must be refused").toBe(true);
    okTyp("plain_starttls");
    const caps: string[] = ok("plain_capabilities_after_tls");
    expect(caps).not.toContain("LOGINDISABLED");
    expect(caps).not.toContain("STARTTLS");
    okTyp("plain_login_after_starttls");
    expect(flat(okTyp("plain_list"))).toContain("PyBox");
    ok("plain_logout");
  });
});
