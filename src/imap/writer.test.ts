import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeMailboxName, encodeMailboxName } from "./grammar/mailbox-name";
import { tokenize } from "./grammar/test-support";
import type { Token } from "./types";
import { Atom, canQuote, encodeValue, Literal, literal, MAX_QUOTED_LENGTH, nstring, quoted, quotedOrLiteral } from "./writer";

const text = (b: Buffer) => b.toString("latin1");

/** The value as a client's parser sees it: sent as an argument, read back by framer + tokenizer. */
function readBack(wire: Buffer): Token {
  const cmd = tokenize(Buffer.concat([Buffer.from("a NOOP "), wire, Buffer.from(" END\r\n")]));
  expect(cmd.args).toHaveLength(2);
  return cmd.args[0]!;
}

function stringOf(t: Token): string {
  if (t.type !== "string") throw new Error(`expected a string token, got ${t.type}`);
  return t.value.toString("utf8");
}

describe("encodeValue", () => {
  it("writes NIL, numbers, atoms and lists", () => {
    expect(text(encodeValue(null))).toBe("NIL");
    expect(text(encodeValue(0))).toBe("0");
    expect(text(encodeValue(4294967295))).toBe("4294967295");
    expect(text(encodeValue(new Atom("\\Seen")))).toBe("\\Seen");
    expect(text(encodeValue(["a", 1, null, [new Atom("X"), []]]))).toBe('("a" 1 NIL (X ()))');
  });
  it("refuses numbers that are not non-negative integers", () => {
    for (const n of [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 53]) expect(() => encodeValue(n), String(n)).toThrow(RangeError);
  });
  it("refuses an atom that would break the line", () => {
    expect(() => new Atom("a\r\nb")).toThrow(RangeError);
  });
  it("quotes 7-bit strings, escaping quote and backslash", () => {
    expect(text(encodeValue(""))).toBe('""');
    expect(text(encodeValue("abc"))).toBe('"abc"');
    expect(text(encodeValue('a"b\\c'))).toBe('"a\\"b\\\\c"');
    expect(text(encodeValue("tab\there"))).toBe('"tab\there"');
    expect(text(encodeValue("x".repeat(MAX_QUOTED_LENGTH)))).toBe(`"${"x".repeat(MAX_QUOTED_LENGTH)}"`);
  });
  it("sends a literal for 8-bit, CR, LF and long strings", () => {
    expect(text(encodeValue("Grüße"))).toBe("{7}\r\nGr\xc3\xbc\xc3\x9fe");
    expect(text(encodeValue("a\r\n b"))).toBe("{5}\r\na\r\n b");
    expect(text(encodeValue("a\nb"))).toBe("{3}\r\na\nb");
    expect(text(encodeValue("x".repeat(MAX_QUOTED_LENGTH + 1)))).toBe(`{${MAX_QUOTED_LENGTH + 1}}\r\n${"x".repeat(MAX_QUOTED_LENGTH + 1)}`);
  });
  it("never sends NUL: U+0000 in text becomes U+FFFD, NUL octets become 0x80", () => {
    const s = encodeValue("a\0b");
    expect(s.includes(0)).toBe(false);
    expect(text(s)).toBe("{5}\r\na\xef\xbf\xbdb");
    const data = Buffer.from([0x61, 0, 0x62, 0]);
    const lit = encodeValue(new Literal(data));
    expect([...lit]).toEqual([...Buffer.from("{4}\r\n"), 0x61, 0x80, 0x62, 0x80]);
    expect([...data]).toEqual([0x61, 0, 0x62, 0]); // the caller's buffer is left alone
    expect(text(literal(Buffer.from("plain")))).toBe("{5}\r\nplain");
  });
  it("writes Buffers and Literals as literals even when quotable", () => {
    expect(text(encodeValue(Buffer.from("abc")))).toBe("{3}\r\nabc");
    expect(text(encodeValue(new Literal(Buffer.alloc(0))))).toBe("{0}\r\n");
  });
});

describe("quoted / quotedOrLiteral / nstring", () => {
  it("quoted refuses what cannot be quoted", () => {
    expect(quoted("ok")).toBe('"ok"');
    for (const s of ["a\rb", "a\nb", "a\0b", "é", "x".repeat(MAX_QUOTED_LENGTH + 1)]) expect(() => quoted(s)).toThrow(RangeError);
  });
  it("canQuote on strings and buffers", () => {
    expect(canQuote("abc")).toBe(true);
    expect(canQuote(Buffer.from("abc"))).toBe(true);
    expect(canQuote(Buffer.from([0x61, 0x80]))).toBe(false);
    expect(canQuote(Buffer.from([0x61, 0x0d]))).toBe(false);
    expect(canQuote("\x7f")).toBe(true);
  });
  it("quotedOrLiteral takes buffers too", () => {
    expect(text(quotedOrLiteral(Buffer.from('x"y')))).toBe('"x\\"y"');
    expect(text(quotedOrLiteral(Buffer.from([0xff])))).toBe("{1}\r\n\xff");
  });
  it("nstring maps null to NIL", () => {
    expect(text(nstring(null))).toBe("NIL");
    expect(text(nstring("NIL"))).toBe('"NIL"');
  });
});

describe("round trip through the tokenizer", () => {
  const samples = [
    "",
    "plain",
    'quote " and backslash \\',
    "\\\\\\\"",
    "Grüße aus Köln",
    "日本語のメール",
    "emoji 📬",
    "folded\r\n header value",
    "bare\nlf and bare\rcr",
    "ends with backslash\\",
    "{5}",
    "{3}\r\nnot a literal",
    "NIL",
    ")(",
    "x".repeat(5000),
  ];
  for (const s of samples) {
    it(JSON.stringify(s.length > 40 ? s.slice(0, 40) + "…" : s), () => {
      expect(stringOf(readBack(encodeValue(s)))).toBe(s);
    });
  }

  it("any string (U+0000 aside) reads back as itself", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (raw) => {
        const s = Buffer.from(raw, "utf8").toString("utf8"); // lone surrogates have no UTF-8 form
        expect(stringOf(readBack(encodeValue(s)))).toBe(s.replace(/\0/g, "\ufffd"));
      }),
      { numRuns: 300 },
    );
  });

  it("any octets read back as themselves, NUL as 0x80", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (arr) => {
        const data = Buffer.from(arr);
        const back = readBack(encodeValue(new Literal(data)));
        expect(back.type === "string" && [...back.value]).toEqual([...data].map((b) => (b === 0 ? 0x80 : b)));
        const q = readBack(quotedOrLiteral(data));
        expect(q.type === "string" && [...q.value]).toEqual([...data].map((b) => (b === 0 ? 0x80 : b)));
      }),
      { numRuns: 300 },
    );
  });

  const mailboxes = ["INBOX", "Sent Items", "Entwürfe", "a&b", "日本/メール", 'q"uote', "back\\slash", "~peter/mail/台北/日本語", "%*"];
  for (const name of mailboxes) {
    it(`mailbox name ${JSON.stringify(name)}`, () => {
      expect(decodeMailboxName(readBack(encodeValue(encodeMailboxName(name))))).toBe(name);
    });
  }

  it("any mailbox name reads back as itself", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }).filter((s) => !/[\0-\x1f\x7f]/.test(s) && s.toUpperCase() !== "INBOX"),
        (name) => {
          expect(decodeMailboxName(readBack(encodeValue(encodeMailboxName(name))))).toBe(name);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("nested lists of values read back with the same structure", () => {
    const value = ["To: <a@b>", null, ["Grüße", "x\r\ny", 42], []];
    const t = readBack(encodeValue(value));
    expect(t.type).toBe("list");
    if (t.type !== "list") return;
    expect(stringOf(t.items[0]!)).toBe("To: <a@b>");
    expect(t.items[1]).toEqual({ type: "nil" });
    const inner = t.items[2]!;
    expect(inner.type === "list" && inner.items.map((x) => (x.type === "atom" ? x.value : stringOf(x)))).toEqual(["Grüße", "x\r\ny", "42"]);
    expect(t.items[3]).toEqual({ type: "list", items: [] });
  });
});
