import { describe, expect, it } from "vitest";
import { addressTexts, envelope, formatSexp, parseMime } from "./index";
import { crlf, simpleText } from "./test-messages";

const ENVELOPE = async (m: Buffer): Promise<string> => formatSexp(envelope(await parseMime(m)));

describe("envelope", () => {
  it("fills every field and defaults sender and reply-to to from", async () => {
    const alice = '(("Alice Example" NIL "alice" "example.org"))';
    expect(await ENVELOPE(simpleText)).toBe(
      `("Mon, 7 Feb 1994 21:52:25 -0800" "Hello" ${alice} ${alice} ${alice} ((NIL NIL "bob" "example.net")) NIL NIL NIL "<1@example.org>")`,
    );
  });

  it("keeps explicit sender, reply-to, cc, bcc and in-reply-to", async () => {
    const m = crlf(
      "From: a@x.org",
      "Sender: s@x.org",
      "Reply-To: r@x.org",
      "To: t@x.org",
      "Cc: c1@x.org, c2@x.org",
      "Bcc: b@x.org",
      "In-Reply-To: <parent@x.org>",
      "",
      "",
    );
    expect(await ENVELOPE(m)).toBe(
      '(NIL NIL ((NIL NIL "a" "x.org")) ((NIL NIL "s" "x.org")) ((NIL NIL "r" "x.org")) ((NIL NIL "t" "x.org")) ' +
        '((NIL NIL "c1" "x.org")(NIL NIL "c2" "x.org")) ((NIL NIL "b" "x.org")) "<parent@x.org>" NIL)',
    );
  });

  it("uses from for an empty Sender or Reply-To and NIL for empty fields", async () => {
    const m = crlf("From: a@x.org", "Sender:", "Reply-To:  ", "Subject:", "To:", "", "x");
    const a = '((NIL NIL "a" "x.org"))';
    expect(await ENVELOPE(m)).toBe(`(NIL NIL ${a} ${a} ${a} NIL NIL NIL NIL NIL)`);
  });

  it("is all NIL for a message without headers", async () => {
    expect(await ENVELOPE(crlf("", "body"))).toBe("(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
  });

  it("writes groups with a start and an end marker", async () => {
    const m = crlf("From: a@x.org", "To: Team: b@x.org, \"C D\" <c@x.org>;, e@x.org", "Cc: undisclosed-recipients:;", "", "");
    const env = envelope(await parseMime(m)) as unknown[];
    expect(formatSexp(env[5] as never)).toBe(
      '((NIL NIL "Team" NIL)(NIL NIL "b" "x.org")("C D" NIL "c" "x.org")(NIL NIL NIL NIL)(NIL NIL "e" "x.org"))',
    );
    expect(formatSexp(env[6] as never)).toBe('((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))');
  });

  it("keeps encoded-words encoded and unfolds folded values", async () => {
    const m = crlf(
      "From: =?UTF-8?Q?J=C3=B6rg?= <jorg@x.org>",
      "Subject: =?UTF-8?B?w4RyZ2Vy?=",
      "  continued",
      "",
      "",
    );
    const jorg = '(("=?UTF-8?Q?J=C3=B6rg?=" NIL "jorg" "x.org"))';
    expect(await ENVELOPE(m)).toBe(`(NIL "=?UTF-8?B?w4RyZ2Vy?=  continued" ${jorg} ${jorg} ${jorg} NIL NIL NIL NIL NIL)`);
  });

  it("parses the address forms of RFC 5322", async () => {
    const m = crlf(
      'To: "Doe, John" <john@x.org>, jane@x.org (Jane Roe), <@r1,@r2:route@x.org>, "odd local"@x.org, nodomain, <>, Mr. Smith <s@x.org>',
      "",
      "",
    );
    const env = envelope(await parseMime(m)) as unknown[];
    expect(formatSexp(env[5] as never)).toBe(
      '(("Doe, John" NIL "john" "x.org")("Jane Roe" NIL "jane" "x.org")(NIL "@r1,@r2" "route" "x.org")' +
        '(NIL NIL "odd local" "x.org")(NIL NIL "nodomain" "MISSING_DOMAIN")("Mr. Smith" NIL "s" "x.org"))',
    );
  });

  it("takes no display name from comments inside the angle brackets", async () => {
    const m = crlf("From: <user-from (comment)@ (comment) domain.org>", "To: (Old Style) <a@b.org>, c@d.org (Trailing)", "", "");
    const env = envelope(await parseMime(m)) as unknown[];
    expect(formatSexp(env[2] as never)).toBe('((NIL NIL "user-from" "domain.org"))');
    expect(formatSexp(env[5] as never)).toBe('(("Old Style" NIL "a" "b.org")("Trailing" NIL "c" "d.org"))');
    expect(addressTexts("Joe (x) <user-from (comment)@ (comment) domain.org>, c@d.org (Trailing)")).toEqual([
      "Joe <user-from@domain.org>",
      "Trailing <c@d.org>",
    ]);
  });

  it("passes 8-bit header text through as UTF-8", async () => {
    const m = Buffer.concat([Buffer.from("Subject: "), Buffer.from("Grüße", "utf8"), Buffer.from("\r\n\r\n")]);
    const env = envelope(await parseMime(m)) as unknown[];
    expect(env[1]).toBe("Grüße");
    expect(formatSexp(env as never)).toContain(`{${Buffer.byteLength("Grüße")}}\r\nGrüße`);
  });
});
