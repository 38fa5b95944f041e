import { describe, expect, it } from "vitest";
import { append } from "../commands/append";
import { store } from "../commands/store";
import { ProtocolError } from "../tokenizer";
import { parseFlag, parseFlagList } from "./flags";
import { tokenize } from "./test-support";

/** Flags of `a APPEND INBOX <list> {1}` through framer, tokenizer and grammar. */
function flagList(text: string): string[] {
  return parseFlagList(tokenize(`a NOOP ${text}`).args[0]!);
}

describe("flag lists accepted", () => {
  const accept: Array<[string, string[]]> = [
    ["()", []],
    ["(\\Seen)", ["\\Seen"]],
    ["(\\seen \\ANSWERED \\fLaGgEd \\Deleted \\draft)", ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]],
    ["($Work Junk $MDNSent NonJunk)", ["$Work", "Junk", "$MDNSent", "NonJunk"]],
    ["(\\Seen \\SEEN foo FOO Foo)", ["\\Seen", "foo"]],
    ["(a.b-c_d+e/f:g!h#i&j'k~l`m|n@o=p?q<r>s^t,u;v)", ["a.b-c_d+e/f:g!h#i&j'k~l`m|n@o=p?q<r>s^t,u;v"]],
    ["([x)", ["[x"]],
  ];
  for (const [text, flags] of accept) {
    it(text, () => {
      expect(flagList(text)).toEqual(flags);
    });
  }
});

describe("flags refused with BAD", () => {
  const reject = [
    "(\\Recent)", "(\\recent)", "(\\*)", "(\\Foo)", "(\\)", "(\\Seen\\Draft)", "(a%b)", "(a*)", "(a])", "(a\\b)",
    '("quoted")', '("\\\\Seen")', "((x))", "(NIL)", "({4}\r\nJunk)", `(${"k".repeat(251)})`, "(BODY[])",
  ];
  for (const text of reject) {
    it(JSON.stringify(text), () => {
      expect(() => flagList(text)).toThrow(ProtocolError);
    });
  }
  it("says Invalid system flag for an unknown backslash flag", () => {
    expect(() => parseFlag("\\Important")).toThrow(/Invalid system flag/);
  });
  it("refuses \\Recent with a reason", () => {
    expect(() => parseFlag("\\Recent")).toThrow(/\\Recent/);
  });
});

describe("STORE and APPEND flags", () => {
  const storeArgs = (line: string) => {
    const cmd = tokenize(line);
    return store.parse(cmd.args, cmd.uid);
  };
  it("STORE takes a flag list or bare flags", () => {
    expect(storeArgs("a STORE 1:* +FLAGS.SILENT (\\seen $Label1)")).toEqual({
      set: [{ from: 1, to: null }],
      mode: "add",
      silent: true,
      flags: ["\\Seen", "$Label1"],
      uid: false,
    });
    expect(storeArgs("a UID STORE 5 -FLAGS \\Deleted \\DRAFT").flags).toEqual(["\\Deleted", "\\Draft"]);
    expect(storeArgs("a STORE 2 FLAGS ()").flags).toEqual([]);
  });
  it("STORE refuses bad flags and bad items", () => {
    for (const line of [
      "a STORE 1 +FLAGS (\\Recent)",
      "a STORE 1 +FLAGS (\\Invalid)",
      "a STORE 1 FLAGS \\Seen (\\Draft)",
      "a STORE 1 +FLAGS (a*)",
      "a STORE 1 FLAGSX (\\Seen)",
      "a STORE 0 FLAGS (\\Seen)",
      "a STORE 1 +FLAGS NIL",
    ]) {
      expect(() => storeArgs(line), line).toThrow(ProtocolError);
    }
  });
  it("APPEND normalises system flags and refuses \\Recent", () => {
    const ok = tokenize('a APPEND INBOX (\\SEEN custom) "05-Jan-2024 10:00:00 +0000" {3}\r\nabc');
    const parsed = append.parse(ok.args, false);
    expect(parsed.flags).toEqual(["\\Seen", "custom"]);
    expect(parsed.message.toString()).toBe("abc");
    const bad = tokenize("a APPEND INBOX (\\Recent) {3}\r\nabc");
    expect(() => append.parse(bad.args, false)).toThrow(ProtocolError);
    const bad2 = tokenize("a APPEND INBOX (\\Foo) {3}\r\nabc");
    expect(() => append.parse(bad2.args, false)).toThrow(/Invalid system flag/);
  });
});
