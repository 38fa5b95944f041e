import { describe, expect, it } from "vitest";
import { fetch } from "../commands/fetch";
import { ProtocolError } from "../tokenizer";
import type { FetchAttribute } from "../types";
import { parseFetchAttributes, parseSectionSpec } from "./fetch-attributes";
import { tokenize } from "./test-support";

/** FETCH attributes of `a FETCH 1 <text>` through framer, tokenizer and grammar. */
function atts(text: string): FetchAttribute[] {
  return parseFetchAttributes(tokenize(`a FETCH 1 ${text}`).args.slice(1));
}

const body = (section: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  kind: "BODY[]",
  section: { part: [], ...section },
  peek: false,
  ...extra,
});

describe("FETCH attributes accepted", () => {
  const accept: Array<[string, unknown[]]> = [
    ["ALL", [{ kind: "FLAGS" }, { kind: "INTERNALDATE" }, { kind: "RFC822.SIZE" }, { kind: "ENVELOPE" }]],
    ["fast", [{ kind: "FLAGS" }, { kind: "INTERNALDATE" }, { kind: "RFC822.SIZE" }]],
    ["FULL", [{ kind: "FLAGS" }, { kind: "INTERNALDATE" }, { kind: "RFC822.SIZE" }, { kind: "ENVELOPE" }, { kind: "BODY" }]],
    ["FLAGS", [{ kind: "FLAGS" }]],
    ["uid", [{ kind: "UID" }]],
    [
      "(ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT BODY BODYSTRUCTURE UID)",
      ["ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE", "RFC822.TEXT", "BODY", "BODYSTRUCTURE", "UID"].map(
        (kind) => ({ kind }),
      ),
    ],
    // RFC 3501 §6.4.5 example
    ["(FLAGS BODY[HEADER.FIELDS (DATE FROM)])", [{ kind: "FLAGS" }, body({ text: "HEADER.FIELDS", fields: ["DATE", "FROM"] })]],
    ["BODY[]", [body({})]],
    ["BODY.PEEK[]", [{ ...body({}), peek: true }]],
    ["body.peek[text]", [{ ...body({ text: "TEXT" }), peek: true }]],
    ["BODY[HEADER]", [body({ text: "HEADER" })]],
    ["BODY[1]", [body({ part: [1] })]],
    ["BODY[4.2.2.1]", [body({ part: [4, 2, 2, 1] })]],
    ["BODY[1.2.MIME]", [body({ part: [1, 2], text: "MIME" })]],
    ["BODY[3.TEXT]", [body({ part: [3], text: "TEXT" })]],
    ["BODY[2.HEADER]", [body({ part: [2], text: "HEADER" })]],
    ["BODY[3.HEADER.FIELDS (a)]", [body({ part: [3], text: "HEADER.FIELDS", fields: ["A"] })]],
    ['BODY[HEADER.FIELDS.NOT ("Subject" x-y NIL)]', [body({ text: "HEADER.FIELDS.NOT", fields: ["SUBJECT", "X-Y", "NIL"] })]],
    ["BODY[HEADER.FIELDS ({4}\r\nFrom)]", [body({ text: "HEADER.FIELDS", fields: ["FROM"] })]],
    ["BODY[]<0.2048>", [body({}, { partial: { start: 0, length: 2048 } })]],
    ["BODY.PEEK[TEXT]<4294967295.4294967295>", [{ ...body({ text: "TEXT" }, { partial: { start: 4294967295, length: 4294967295 } }), peek: true }]],
    ["(UID BODY[4294967295])", [{ kind: "UID" }, body({ part: [4294967295] })]],
  ];
  for (const [text, expected] of accept) {
    it(JSON.stringify(text), () => {
      expect(atts(text)).toEqual(expected);
    });
  }
});

describe("FETCH attributes refused with BAD", () => {
  const reject = [
    "(ALL)", "(FLAGS FAST)", "(FULL)", "FLAGS UID", "ALL FLAGS", "()", "FOO", "RFC822.PEEK", "BODY.PEEK", "BODYSTRUCTURE[]",
    "BODY[FOO]", "BODY[HEADER.FIELDS]", "BODY[HEADER.FIELDS.NOT]", "BODY[HEADER.FIELDS ()]", "BODY[MIME]", "BODY[0]",
    "BODY[1.0]", "BODY[01]", "BODY[1.]", "BODY[.TEXT]", "BODY[1..2]", "BODY[TEXT (a)]", "BODY[HEADER (a)]",
    "BODY[HEADER.FIELDS (a) b]", "BODY[HEADER.FIELDS (a) (b)]", "BODY[]x", "BODY[]]", "BODY[]<0.0>", "BODY[]<0.00>",
    "BODY[]<1>", "BODY[]<a.b>", "BODY[]<1.2", "BODY[]<-1.2>", "BODY[]<0.4294967296>", "BODY[]<4294967296.1>", "BODY[]<0.01>",
    "BODY[HEADER.FIELDS ((a))]", "BODY[HEADER.FIELDS (a*)]", "BODY[HEADER.FIELDS (a%)]", "BODY[HEADER.FIELDS (\\a)]",
    "BINARY[1]", "BINARY.PEEK[1]", "BINARY.SIZE[1]", "BODY[BODY[]]", "BODY[[]", "((FLAGS))", '"FLAGS"', "NIL", "{5}\r\nFLAGS",
    "BODY[1.MIME.TEXT]", "BODY[HEADER.FIELDS.NOT.X (a)]", "BODY[4294967296]", "BODY[TEXT.1]", "BODY[HEADER.TEXT]",
    'BODY["TEXT"]', "BODY[(a)]", "BODY[1 2]", "BODY[]FLAGS", "(FLAGS BODY[]<0.0>)", "(FLAGS", "FLAGS)", "BODY[TEXT",
    "BODY<0.10>", "BODY[]<>", "(BODY[] FLAGS UID ALL)",
    'BODY[HEADER.FIELDS ("a b")]', 'BODY[HEADER.FIELDS ("a:b")]', 'BODY[HEADER.FIELDS ("")]', "BODY[HEADER.FIELDS ({3}\r\na\r\n)]",
    'BODY[HEADER.FIELDS ("Sübject")]', "BODY[HEADER.FIELDS (Subject:)]",
  ];
  for (const text of reject) {
    it(JSON.stringify(text), () => {
      expect(() => atts(text)).toThrow(ProtocolError);
    });
  }
  it("refuses an empty argument list", () => {
    expect(() => parseFetchAttributes([])).toThrow(ProtocolError);
  });
  it("refuses a section with more than two words handed over directly", () => {
    expect(() =>
      parseSectionSpec([
        { type: "atom", value: "HEADER.FIELDS" },
        { type: "list", items: [{ type: "atom", value: "a" }] },
        { type: "atom", value: "x" },
      ]),
    ).toThrow(ProtocolError);
  });
});

describe("FETCH command parse", () => {
  it("echoes section names in the client's order with the partial's origin", () => {
    const cmd = tokenize("a UID FETCH 1:* (UID body.peek[header.fields (From To)]<0.10> BODY[1.MIME] FLAGS)");
    const parsed = fetch.parse(cmd.args, cmd.uid);
    expect(parsed.uid).toBe(true);
    expect(parsed.set).toEqual([{ from: 1, to: null }]);
    expect(parsed.sectionNames).toEqual(["BODY[HEADER.FIELDS (From To)]<0>", "BODY[1.MIME]"]);
  });
  it("echoes quoted header names with their escapes", () => {
    const cmd = tokenize('a FETCH 1 BODY[HEADER.FIELDS ("X-\\"Q\\\\" {3}\r\nX-L)]');
    const parsed = fetch.parse(cmd.args, false);
    expect(parsed.attrs).toEqual([body({ text: "HEADER.FIELDS", fields: ['X-"Q\\', "X-L"] })]);
    expect(parsed.sectionNames).toEqual(['BODY[HEADER.FIELDS ("X-\\"Q\\\\" "X-L")]']);
  });
  it("refuses FETCH without attributes", () => {
    const cmd = tokenize("a FETCH 1");
    expect(() => fetch.parse(cmd.args, false)).toThrow(ProtocolError);
  });
});
