import { describe, expect, it } from "vitest";
import { headerValues, parseMime, searchableText, sentDate } from "./index";
import { alternative, crlf, mixedWithAttachment, simpleText } from "./test-messages";

describe("headerValues", () => {
  it("returns decoded values of every occurrence of a top-level field", async () => {
    const m = crlf("Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus", " Wien", "X-Tag: one", "x-tag: two", "", "body");
    const root = await parseMime(m);
    expect(headerValues(m, root, "Subject")).toEqual(["Grüße aus Wien"]);
    expect(headerValues(m, root, "X-TAG")).toEqual(["one", "two"]);
    expect(headerValues(m, root, "cc")).toEqual([]);
  });

  it("does not look into the headers of parts", async () => {
    const root = await parseMime(mixedWithAttachment);
    expect(headerValues(mixedWithAttachment, root, "content-transfer-encoding")).toEqual([]);
  });
});

describe("searchableText", () => {
  it("decodes quoted-printable text parts to UTF-8", async () => {
    const text = searchableText(alternative, await parseMime(alternative));
    expect(text).toContain("Grüße");
    expect(text).toContain("<p>Grüße</p>");
  });

  it("decodes base64 and converts charsets", async () => {
    const latin1 = Buffer.from("Caf\u00e9 cr\u00e8me", "latin1").toString("base64");
    const m = crlf(
      "Content-Type: multipart/mixed; boundary=b",
      "",
      "--b",
      "Content-Type: text/plain; charset=ISO-8859-1",
      "Content-Transfer-Encoding: base64",
      "",
      latin1,
      "--b",
      "Content-Type: application/octet-stream",
      "Content-Transfer-Encoding: base64",
      "",
      Buffer.from("secret binary words").toString("base64"),
      "--b--",
      "",
    );
    const text = searchableText(m, await parseMime(m));
    expect(text).toBe("Café crème");
  });

  it("includes the text of embedded messages", async () => {
    const m = crlf("Content-Type: message/rfc822", "", "Subject: inner", "", "inner words");
    expect(searchableText(m, await parseMime(m))).toBe("inner words");
  });

  it("returns the plain body of a simple message", async () => {
    expect(searchableText(simpleText, await parseMime(simpleText))).toBe("Hello Bob,\r\nhow are you?\r\n");
  });
});

describe("sentDate", () => {
  const at = async (date: string): Promise<number | undefined> => {
    const m = crlf(`Date: ${date}`, "", "");
    return sentDate(m, await parseMime(m));
  };

  it("reads RFC 5322 dates with numeric zones", async () => {
    expect(sentDate(simpleText, await parseMime(simpleText))).toBe(Date.UTC(1994, 1, 8, 5, 52, 25));
    expect(await at("Sat, 24 Mar 2007 23:00:00 +0200")).toBe(Date.UTC(2007, 2, 24, 21, 0, 0));
    expect(await at("1 Jan 2020 00:00 +0530")).toBe(Date.UTC(2019, 11, 31, 18, 30, 0));
  });

  it("reads obsolete zones and two-digit years", async () => {
    expect(await at("Tue, 1 Feb 94 10:00:00 PST")).toBe(Date.UTC(1994, 1, 1, 18, 0, 0));
    expect(await at("1 Feb 05 10:00:00 GMT (comment)")).toBe(Date.UTC(2005, 1, 1, 10, 0, 0));
  });

  it("is undefined without a readable date", async () => {
    expect(await at("yesterday")).toBeUndefined();
    expect(sentDate(crlf("Subject: x", "", ""), await parseMime(crlf("Subject: x", "", "")))).toBeUndefined();
  });
});
