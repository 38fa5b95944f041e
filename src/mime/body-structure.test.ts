import { describe, expect, it } from "vitest";
import { bodyStructure, formatSexp, parseMime } from "./index";
import { alternative, crlf, dovecotSample, forwarded, mixedWithAttachment, nested, simpleText } from "./test-messages";

const len = (s: string): number => Buffer.byteLength(s);
const BODYSTRUCTURE = async (m: Buffer): Promise<string> => formatSexp(bodyStructure(await parseMime(m), true));
const BODY = async (m: Buffer): Promise<string> => formatSexp(bodyStructure(await parseMime(m), false));

describe("bodyStructure", () => {
  it("matches Dovecot's own reference output for its test message", async () => {
    // Expected strings are test-imap-bodystructure.c's, wrapped in the outer parentheses the
    // FETCH response adds; Dovecot counts LF as CRLF, the sample here is stored with CRLF.
    expect(await BODYSTRUCTURE(dovecotSample)).toBe(
      '(("text" "x-myown" ("charset" "us-ascii" "foo" "quoted\\"string") "<foo@example.com>" "hellodescription" "7bit" 7 1 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("inline" ("foo" "bar")) ("en" "fi" "se") "http://example.com/test.txt")' +
        '("message" "rfc822" NIL NIL NIL "7bit" 412 ("Sun, 12 Aug 2012 12:34:56 +0300" "submsg" ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub-to1" "domain.org")(NIL NIL "sub-to2" "domain.org")) NIL NIL NIL NIL) ' +
        '(("text" "html" ("charset" "us-ascii") NIL NIL "8bit" 20 1 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 21 1 NIL NIL NIL NIL) "alternative" ("boundary" "sub1") NIL NIL NIL) 21 NIL NIL NIL NIL) ' +
        '"mixed" ("boundary" "foo bar") NIL NIL NIL)',
    );
    expect(await BODY(dovecotSample)).toBe(
      '(("text" "x-myown" ("charset" "us-ascii" "foo" "quoted\\"string") "<foo@example.com>" "hellodescription" "7bit" 7 1)' +
        '("message" "rfc822" NIL NIL NIL "7bit" 412 ("Sun, 12 Aug 2012 12:34:56 +0300" "submsg" ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub-to1" "domain.org")(NIL NIL "sub-to2" "domain.org")) NIL NIL NIL NIL) ' +
        '(("text" "html" ("charset" "us-ascii") NIL NIL "8bit" 20 1)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 21 1) "alternative") 21) "mixed")',
    );
  });

  it("describes a single text part with size and line count", async () => {
    const size = len("Hello Bob,\r\nhow are you?\r\n");
    expect(size).toBe(26);
    expect(await BODY(simpleText)).toBe(`("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ${size} 2)`);
    expect(await BODYSTRUCTURE(simpleText)).toBe(`("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ${size} 2 NIL NIL NIL NIL)`);
  });

  it("writes multipart/alternative children back to back, then the subtype", async () => {
    const plain = len("Gr=C3=BC=C3=9Fe\r\n"); // the CRLF before the delimiter is not part of the body
    const html = len("<p>Gr\u00fc\u00dfe</p>");
    expect([plain, html]).toEqual([17, 14]);
    expect(await BODY(alternative)).toBe(
      `(("text" "plain" ("charset" "UTF-8") NIL NIL "quoted-printable" ${plain} 1)("text" "html" ("charset" "UTF-8") NIL NIL "7bit" ${html} 0) "alternative")`,
    );
    expect(await BODYSTRUCTURE(alternative)).toBe(
      `(("text" "plain" ("charset" "UTF-8") NIL NIL "quoted-printable" ${plain} 1 NIL NIL NIL NIL)` +
        `("text" "html" ("charset" "UTF-8") NIL NIL "7bit" ${html} 0 NIL NIL NIL NIL) "alternative" ("boundary" "alt-b") NIL NIL NIL)`,
    );
  });

  it("reports a base64 attachment with its disposition and no line count", async () => {
    expect(await BODYSTRUCTURE(mixedWithAttachment)).toBe(
      `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ${len("See attached.")} 0 NIL NIL NIL NIL)` +
        `("application" "pdf" ("name" "r.pdf") NIL NIL "base64" ${len("JVBERi0xLjQK")} NIL ("attachment" ("filename" "r.pdf")) NIL NIL)` +
        ` "mixed" ("boundary" "mix") NIL NIL NIL)`,
    );
  });

  it("nests multiparts", async () => {
    expect(await BODY(nested)).toBe(
      `((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0)("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 11 0) "alternative")` +
        `("image" "png" NIL "<img1>" NIL "base64" 8) "mixed")`,
    );
  });

  it("gives a message/rfc822 attachment its envelope, body structure and line count", async () => {
    const inner = [
      "From: Erin <erin@example.com>",
      "To: carol@example.org",
      "Subject: lunch?",
      "Date: Tue, 1 Feb 2022 12:00:00 +0000",
      "Message-ID: <lunch@example.com>",
      "",
      "Noon at the usual place.",
    ].join("\r\n");
    const erin = '(("Erin" NIL "erin" "example.com"))';
    const env = `("Tue, 1 Feb 2022 12:00:00 +0000" "lunch?" ${erin} ${erin} ${erin} ((NIL NIL "carol" "example.org")) NIL NIL NIL "<lunch@example.com>")`;
    expect(await BODYSTRUCTURE(forwarded)).toBe(
      `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ${len("Forwarding this.")} 0 NIL NIL NIL NIL)` +
        `("message" "rfc822" NIL NIL NIL "7bit" ${len(inner)} ${env} ` +
        `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ${len("Noon at the usual place.")} 0 NIL NIL NIL NIL) 6 NIL ("attachment" NIL) NIL NIL)` +
        ` "mixed" ("boundary" "fwd") NIL NIL NIL)`,
    );
  });

  it("defaults a missing Content-Type to text/plain; charset=us-ascii", async () => {
    const m = crlf("Subject: bare", "", "x");
    expect(await BODY(m)).toBe('("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0)');
  });

  it("treats parts of a multipart/digest without Content-Type as message/rfc822", async () => {
    const m = crlf("Content-Type: multipart/digest; boundary=d", "", "--d", "", "Subject: one", "", "body", "--d--", "");
    expect(await BODY(m)).toBe(
      `(("message" "rfc822" NIL NIL NIL "7bit" ${len("Subject: one\r\n\r\nbody")} (NIL "one" NIL NIL NIL NIL NIL NIL NIL NIL) ` +
        `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 0) 2) "digest")`,
    );
  });

  it("writes one empty text/plain part for a multipart whose boundary never appears", async () => {
    const m = crlf("Content-Type: multipart/mixed; boundary=nowhere", "", "just text", "");
    expect(await BODY(m)).toBe('(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")');
    expect(await BODYSTRUCTURE(m)).toBe(
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" ("boundary" "nowhere") NIL NIL NIL)',
    );
    const noParam = crlf("Content-Type: multipart/mixed", "", "just text", "");
    expect(await BODY(noParam)).toBe('(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")');
  });

  it("counts octets as stored for a message with bare LF line endings", async () => {
    const m = Buffer.from(alternative.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
    expect(await BODY(m)).toBe(
      `(("text" "plain" ("charset" "UTF-8") NIL NIL "quoted-printable" ${len("Gr=C3=BC=C3=9Fe\n")} 1)("text" "html" ("charset" "UTF-8") NIL NIL "7bit" 14 0) "alternative")`,
    );
  });

  it("describes a message without a body", async () => {
    for (const m of [crlf("Subject: nothing", ""), Buffer.from("Subject: no line end"), crlf("Subject: empty", "", "")]) {
      expect(await BODY(m)).toBe('("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)');
    }
  });

  it("treats an unreadable Content-Type as absent and an invalid encoding as 7bit", async () => {
    const m = crlf("Content-Type: garbage", "Content-Transfer-Encoding: what ever", "", "x");
    expect(await BODY(m)).toBe('("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0)');
  });

  it("keeps language lists and location from the part headers", async () => {
    const m = crlf("Content-Type: TEXT/Plain; Format=flowed", "Content-Language: de", "Content-Location: a.txt", "", "x");
    expect(await BODYSTRUCTURE(m)).toBe('("TEXT" "Plain" ("format" "flowed" "charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL ("de") "a.txt")');
  });
});
