import { describe, expect, it } from "vitest";
import type { SectionSpec } from "../imap/types";
import { parseMime, section } from "./index";
import { crlf, forwarded, mixedWithAttachment, nested, simpleText } from "./test-messages";

async function fetch(m: Buffer, spec: SectionSpec): Promise<string | null> {
  const out = section(m, await parseMime(m), spec);
  return out === null ? null : out.toString("utf8");
}

describe("section", () => {
  const header = [
    "From: Alice Example <alice@example.org>",
    "To: bob@example.net",
    "Subject: Hello",
    "Date: Mon, 7 Feb 1994 21:52:25 -0800",
    "Message-ID: <1@example.org>",
    "",
    "",
  ].join("\r\n");

  it("returns the whole message, its header with the blank line, and its text", async () => {
    expect(await fetch(simpleText, { part: [] })).toBe(simpleText.toString());
    expect(await fetch(simpleText, { part: [], text: "HEADER" })).toBe(header);
    expect(await fetch(simpleText, { part: [], text: "TEXT" })).toBe("Hello Bob,\r\nhow are you?\r\n");
  });

  it("filters header fields in message order, keeping folded lines, ending with CRLF", async () => {
    const m = crlf("Subject: folded", "\tsecond line", "From: a@x.org", "X-Empty:", "To: b@x.org", "", "body");
    expect(await fetch(m, { part: [], text: "HEADER.FIELDS", fields: ["TO", "SUBJECT"] })).toBe(
      "Subject: folded\r\n\tsecond line\r\nTo: b@x.org\r\n\r\n",
    );
    expect(await fetch(m, { part: [], text: "HEADER.FIELDS.NOT", fields: ["SUBJECT", "TO"] })).toBe(
      "From: a@x.org\r\nX-Empty:\r\n\r\n",
    );
    expect(await fetch(m, { part: [], text: "HEADER.FIELDS", fields: ["CC"] })).toBe("\r\n");
  });

  it("returns every occurrence of a repeated field", async () => {
    const m = crlf("Received: one", "Subject: s", "Received: two", "", "");
    expect(await fetch(m, { part: [], text: "HEADER.FIELDS", fields: ["RECEIVED"] })).toBe("Received: one\r\nReceived: two\r\n\r\n");
  });

  it("treats part 1 of a single-part message as its body", async () => {
    expect(await fetch(simpleText, { part: [1] })).toBe("Hello Bob,\r\nhow are you?\r\n");
    expect(await fetch(simpleText, { part: [1], text: "MIME" })).toBe(header);
    expect(await fetch(simpleText, { part: [2] })).toBeNull();
    expect(await fetch(simpleText, { part: [1, 1] })).toBeNull();
    expect(await fetch(simpleText, { part: [1], text: "HEADER" })).toBeNull();
  });

  it("addresses the parts of a multipart message", async () => {
    expect(await fetch(mixedWithAttachment, { part: [1] })).toBe("See attached.");
    expect(await fetch(mixedWithAttachment, { part: [2] })).toBe("JVBERi0xLjQK");
    expect(await fetch(mixedWithAttachment, { part: [2], text: "MIME" })).toBe(
      'Content-Type: application/pdf; name="r.pdf"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="r.pdf"\r\n\r\n',
    );
    expect(await fetch(mixedWithAttachment, { part: [1], text: "MIME" })).toBe("Content-Type: text/plain\r\n\r\n");
    expect(await fetch(mixedWithAttachment, { part: [3] })).toBeNull();
    expect(await fetch(mixedWithAttachment, { part: [0] })).toBeNull();
    expect(await fetch(mixedWithAttachment, { part: [], text: "MIME" })).toBeNull();
    expect(await fetch(mixedWithAttachment, { part: [], text: "TEXT" })).toBe(
      mixedWithAttachment.toString().slice(mixedWithAttachment.indexOf("--mix\r\n")),
    );
  });

  it("addresses nested parts, a nested multipart being everything up to its parent's delimiter", async () => {
    expect(await fetch(nested, { part: [1, 1] })).toBe("plain");
    expect(await fetch(nested, { part: [1, 2] })).toBe("<b>html</b>");
    expect(await fetch(nested, { part: [1, 2], text: "MIME" })).toBe("Content-Type: text/html; charset=us-ascii\r\n\r\n");
    expect(await fetch(nested, { part: [1] })).toBe(
      "--inner\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain\r\n--inner\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<b>html</b>\r\n--inner--\r\n",
    );
    expect(await fetch(nested, { part: [2] })).toBe("iVBORw0K");
    expect(await fetch(nested, { part: [1, 3] })).toBeNull();
    expect(await fetch(nested, { part: [2, 1] })).toBeNull();
  });

  it("gives a message/rfc822 part its own HEADER, TEXT and parts", async () => {
    const innerHeader =
      "From: Erin <erin@example.com>\r\nTo: carol@example.org\r\nSubject: lunch?\r\nDate: Tue, 1 Feb 2022 12:00:00 +0000\r\nMessage-ID: <lunch@example.com>\r\n\r\n";
    expect(await fetch(forwarded, { part: [2] })).toBe(innerHeader + "Noon at the usual place.");
    expect(await fetch(forwarded, { part: [2], text: "MIME" })).toBe("Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n");
    expect(await fetch(forwarded, { part: [2], text: "HEADER" })).toBe(innerHeader);
    expect(await fetch(forwarded, { part: [2], text: "TEXT" })).toBe("Noon at the usual place.");
    expect(await fetch(forwarded, { part: [2], text: "HEADER.FIELDS", fields: ["SUBJECT"] })).toBe("Subject: lunch?\r\n\r\n");
    expect(await fetch(forwarded, { part: [2, 1] })).toBe("Noon at the usual place.");
    expect(await fetch(forwarded, { part: [2, 1], text: "MIME" })).toBe(innerHeader);
    expect(await fetch(forwarded, { part: [2, 2] })).toBeNull();
    expect(await fetch(forwarded, { part: [1], text: "TEXT" })).toBeNull();
  });

  it("addresses the parts inside an embedded multipart message", async () => {
    const m = crlf(
      "Content-Type: multipart/mixed; boundary=o",
      "",
      "--o",
      "Content-Type: message/rfc822",
      "",
      "Subject: inner",
      "Content-Type: multipart/alternative; boundary=i",
      "",
      "--i",
      "",
      "first",
      "--i",
      "",
      "second",
      "--i--",
      "",
      "--o--",
      "",
    );
    expect(await fetch(m, { part: [1, 1] })).toBe("first");
    expect(await fetch(m, { part: [1, 2] })).toBe("second");
    expect(await fetch(m, { part: [1], text: "TEXT" })).toBe("--i\r\n\r\nfirst\r\n--i\r\n\r\nsecond\r\n--i--\r\n");
    expect(await fetch(m, { part: [1, 3] })).toBeNull();
  });

  it("returns exact bytes of a message with bare LF line endings", async () => {
    const m = Buffer.from("Subject: lf\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\none\ntwo\n\n--b\n\nthree\n--b--\n");
    expect(await fetch(m, { part: [], text: "HEADER" })).toBe("Subject: lf\nContent-Type: multipart/mixed; boundary=b\n\n");
    expect(await fetch(m, { part: [1] })).toBe("one\ntwo\n");
    expect(await fetch(m, { part: [1], text: "MIME" })).toBe("Content-Type: text/plain\n\n");
    expect(await fetch(m, { part: [2] })).toBe("three");
    expect(await fetch(m, { part: [], text: "HEADER.FIELDS", fields: ["SUBJECT"] })).toBe("Subject: lf\n\r\n");
  });

  it("handles a message with no blank line or no body", async () => {
    const noBlank = Buffer.from("Subject: only\r\nFrom: a@x.org");
    expect(await fetch(noBlank, { part: [], text: "HEADER" })).toBe("Subject: only\r\nFrom: a@x.org");
    expect(await fetch(noBlank, { part: [], text: "TEXT" })).toBe("");
    expect(await fetch(noBlank, { part: [1] })).toBe("");
    expect(await fetch(noBlank, { part: [], text: "HEADER.FIELDS", fields: ["FROM"] })).toBe("From: a@x.org\r\n\r\n");
    const headerOnly = crlf("Subject: h", "", "");
    expect(await fetch(headerOnly, { part: [], text: "HEADER" })).toBe("Subject: h\r\n\r\n");
    expect(await fetch(headerOnly, { part: [], text: "TEXT" })).toBe("");
  });
});
