import { describe, expect, it } from "vitest";
import { bodyStructure, formatSexp, parseMime, type MimeNode } from "./index";
import { crlf, dovecotSample, forwarded, nested } from "./test-messages";

function parts(node: MimeNode, out: string[] = []): string[] {
  out.push(`${node.part || "-"}:${node.type}/${node.subtype}`);
  node.children.forEach((c) => parts(c, out));
  if (node.message) parts(node.message, out);
  return out;
}

describe("parseMime", () => {
  it("produces a tree that survives a JSON round trip unchanged", async () => {
    const root = await parseMime(dovecotSample);
    const copy = JSON.parse(JSON.stringify(root)) as MimeNode;
    expect(copy).toEqual(root);
    expect(formatSexp(bodyStructure(copy, true))).toBe(formatSexp(bodyStructure(root, true)));
  });

  it("numbers parts the IMAP way, embedded message roots sharing their container's number", async () => {
    expect(parts(await parseMime(nested))).toEqual([
      "-:multipart/mixed",
      "1:multipart/alternative",
      "1.1:text/plain",
      "1.2:text/html",
      "2:image/png",
    ]);
    expect(parts(await parseMime(forwarded))).toEqual(["-:multipart/mixed", "1:text/plain", "2:message/rfc822", "2:text/plain"]);
  });

  it("records header and body offsets within the whole message", async () => {
    const root = await parseMime(nested);
    const image = root.children[1]!;
    expect(nested.subarray(image.headerStart, image.bodyStart).toString()).toBe(
      "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <img1>\r\n\r\n",
    );
    expect(image.size).toBe(8);
    expect(root.bodyStart).toBe(Buffer.byteLength("Subject: nested\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n"));
    expect(root.bodyEnd).toBe(nested.length);
  });

  it("keeps offsets right with bare LF line endings", async () => {
    const m = Buffer.from("A: 1\n\n--\nbody line\n");
    const root = await parseMime(m);
    expect([root.headerStart, root.bodyStart, root.bodyEnd, root.lines]).toEqual([0, 6, m.length, 2]);
  });

  it("parses an inline message/rfc822 the same way as an attached one", async () => {
    const inline = Buffer.from(forwarded.toString().replace("Content-Disposition: attachment\r\n", ""));
    const root = await parseMime(inline);
    const container = root.children[1]!;
    expect(container.message?.envelope?.subject).toBe("lunch?");
    expect(inline.subarray(container.message!.bodyStart, container.message!.bodyEnd).toString()).toBe("Noon at the usual place.");
    expect(container.bodyEnd).toBe(container.message!.bodyEnd);
  });

  it("copes with very long and 8-bit headers", async () => {
    const long = "x".repeat(200_000);
    const m = Buffer.concat([
      Buffer.from(`X-Long: ${long}\r\nSubject: `),
      Buffer.from([0xe4, 0x20, 0xc3, 0xa4]), // latin1 "ä", then UTF-8 "ä": not valid UTF-8 as a whole
      Buffer.from("\r\n\r\nbody\r\n"),
    ]);
    const root = await parseMime(m);
    expect(root.envelope?.subject).toBe("\u00e4 \u00c3\u00a4");
    expect(m.subarray(root.bodyStart, root.bodyEnd).toString()).toBe("body\r\n");
  });

  it("falls back to a single part when a part header runs into a delimiter", async () => {
    // mailsplit drops such a header-only part; the blob is then served as one text part.
    const m = crlf("Content-Type: multipart/mixed; boundary=b", "", "--b", "Content-Type: text/plain", "--b", "", "x", "--b--", "");
    const root = await parseMime(m);
    expect(root.multipart).toBe(false);
    expect([root.type, root.subtype, root.bodyEnd]).toEqual(["text", "plain", m.length]);
  });

  it("ends parts at an enclosing delimiter even when an inner multipart is never closed", async () => {
    const m = crlf(
      "Content-Type: multipart/mixed; boundary=o",
      "",
      "--o",
      "Content-Type: multipart/alternative; boundary=i",
      "",
      "--i",
      "",
      "unclosed",
      "--o",
      "",
      "after",
      "--o--",
      "",
    );
    const root = await parseMime(m);
    expect(parts(root)).toEqual(["-:multipart/mixed", "1:multipart/alternative", "1.1:text/plain", "2:text/plain"]);
    const inner = root.children[0]!;
    expect(m.subarray(inner.bodyStart, inner.bodyEnd).toString()).toBe("--i\r\n\r\nunclosed");
    expect(m.subarray(inner.children[0]!.bodyStart, inner.children[0]!.bodyEnd).toString()).toBe("unclosed");
  });
});

describe("parseMime on arbitrary input", () => {
  function checkRanges(node: MimeNode, lo: number, hi: number): void {
    expect(lo <= node.headerStart && node.headerStart <= node.bodyStart && node.bodyStart <= node.bodyEnd && node.bodyEnd <= hi).toBe(true);
    expect(node.size).toBe(node.bodyEnd - node.bodyStart);
    for (const child of node.children) checkRanges(child, node.bodyStart, node.bodyEnd);
    if (node.message) checkRanges(node.message, node.bodyStart, node.bodyEnd);
  }

  it("never throws and keeps every part inside its parent", async () => {
    const fc = await import("fast-check");
    const line = fc.constantFrom(
      "",
      "--a",
      "--a--",
      "--b",
      "--b--",
      "Content-Type: multipart/mixed; boundary=a",
      "Content-Type: multipart/alternative; boundary=b",
      "Content-Type: message/rfc822",
      "Content-Type: text/plain",
      "Subject: s",
      " folded",
      "text",
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 40 }), fc.constantFrom("\r\n", "\n"), async (lines, eol) => {
        const m = Buffer.from(lines.join(eol));
        const root = await parseMime(m);
        checkRanges(root, 0, m.length);
        expect(root.headerStart).toBe(0);
        formatSexp(bodyStructure(root, true));
      }),
      { numRuns: 300 },
    );
  });

  it("accepts an empty message", async () => {
    const root = await parseMime(Buffer.alloc(0));
    expect([root.headerStart, root.bodyStart, root.bodyEnd]).toEqual([0, 0, 0]);
  });
});
