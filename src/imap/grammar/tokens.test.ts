import { describe, expect, it } from "vitest";
import { ProtocolError } from "../tokenizer";
import type { Token } from "../types";
import { tokenize } from "./test-support";
import {
  astringValue,
  atomValue,
  isAstringAtom,
  isAtom,
  numberValue,
  nstringValue,
  nzNumberValue,
  parseNumber,
  parseNzNumber,
  stringValue,
  strictAstringValue,
} from "./tokens";

const args = (text: string): Token[] => tokenize(`a NOOP ${text}`).args;

describe("atoms", () => {
  it("isAtom follows ATOM-CHAR", () => {
    for (const s of ["abc", "INBOX", "a.b", "$x", "[x", "a+b", "~"]) expect(isAtom(s), s).toBe(true);
    for (const s of ["", "a b", "a(", "a)", "a{", "a%", "a*", 'a"', "a\\", "a]", "a\x7f", "a\x01", "ä"]) {
      expect(isAtom(s), JSON.stringify(s)).toBe(false);
    }
  });
  it("isAstringAtom also allows ]", () => {
    expect(isAstringAtom("a]")).toBe(true);
    expect(isAstringAtom("a*")).toBe(false);
    expect(isAstringAtom("")).toBe(false);
  });
  it("atomValue refuses strings, lists and non-atom characters", () => {
    expect(atomValue(args("abc")[0])).toBe("abc");
    expect(atomValue(args("NIL")[0])).toBe("NIL");
    expect(() => atomValue(args('"abc"')[0])).toThrow(ProtocolError);
    expect(() => atomValue(args("(abc)")[0])).toThrow(ProtocolError);
    expect(() => atomValue(args("a*")[0])).toThrow(ProtocolError);
    expect(() => atomValue(undefined)).toThrow(ProtocolError);
  });
});

describe("astring / string / nstring", () => {
  it("astringValue takes atoms, quoted strings and literals", () => {
    const [a, q, l, n] = args('plain "qu\\"o\\\\ted" {5}\r\nlitä NIL');
    expect(astringValue(a!)).toBe("plain");
    expect(astringValue(q!)).toBe('qu"o\\ted');
    expect(astringValue(l!)).toBe("litä");
    expect(astringValue(n!)).toBe("NIL");
    expect(() => astringValue(args("(x)")[0]!)).toThrow(ProtocolError);
  });
  it("strictAstringValue refuses list wildcards and backslashes in atoms", () => {
    expect(strictAstringValue(args("a]b")[0])).toBe("a]b");
    expect(strictAstringValue(args('"a*b"')[0])).toBe("a*b");
    expect(() => strictAstringValue(args("a*b")[0])).toThrow(ProtocolError);
    expect(() => strictAstringValue(args("a%")[0])).toThrow(ProtocolError);
    expect(() => strictAstringValue(args("\\x")[0])).toThrow(ProtocolError);
    expect(() => strictAstringValue(undefined)).toThrow(ProtocolError);
  });
  it("stringValue takes only quoted strings and literals", () => {
    expect(stringValue(args('""')[0]).length).toBe(0);
    expect(stringValue(tokenize(Buffer.from("a NOOP {2}\r\n\x01\xff", "latin1")).args[0])).toEqual(Buffer.from([1, 0xff]));
    expect(() => stringValue(args("atom")[0])).toThrow(ProtocolError);
    expect(() => stringValue(args("NIL")[0])).toThrow(ProtocolError);
  });
  it("nstringValue maps NIL to null", () => {
    expect(nstringValue(args("NIL")[0])).toBeNull();
    expect(nstringValue(args("nil")[0])).toBeNull();
    expect(nstringValue(args('"NIL"')[0])!.toString()).toBe("NIL");
    expect(() => nstringValue(args("other")[0])).toThrow(ProtocolError);
  });
});

describe("numbers", () => {
  it("parseNumber: 0 .. 2^32-1", () => {
    expect(parseNumber("0")).toBe(0);
    expect(parseNumber("007")).toBe(7);
    expect(parseNumber("4294967295")).toBe(4294967295);
    for (const s of ["", "4294967296", "12345678901", "-1", "+1", "1.0", "1e3", " 1", "x", "\u0661"]) {
      expect(() => parseNumber(s), s).toThrow(ProtocolError);
    }
  });
  it("parseNzNumber: no zero, no leading zero", () => {
    expect(parseNzNumber("1")).toBe(1);
    expect(parseNzNumber("4294967295")).toBe(4294967295);
    for (const s of ["0", "01", "4294967296", "", "-3"]) expect(() => parseNzNumber(s), s).toThrow(ProtocolError);
  });
  it("numberValue / nzNumberValue want bare digits", () => {
    expect(numberValue(args("42")[0])).toBe(42);
    expect(nzNumberValue(args("42")[0])).toBe(42);
    expect(() => numberValue(args('"42"')[0])).toThrow(ProtocolError);
    expect(() => nzNumberValue(args("0")[0])).toThrow(ProtocolError);
    expect(() => numberValue(undefined)).toThrow(ProtocolError);
  });
});
