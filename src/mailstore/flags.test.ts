import { describe, expect, it } from "vitest";
import { hasFlag, hasLowerFlag, normalizeFlags } from "./flags";

describe("hasFlag", () => {
  it("matches system flags and keywords without regard to case (RFC 3501 §2.3.2)", () => {
    expect(hasFlag(["\\Seen"], "\\Seen")).toBe(true);
    expect(hasFlag(["\\SEEN"], "\\Seen")).toBe(true);
    expect(hasFlag(["\\Answered", "\\deleted"], "\\Deleted")).toBe(true);
    expect(hasFlag(["$Forwarded"], "$forwarded")).toBe(true);
  });

  it("does not match a flag that only shares a prefix or a length", () => {
    expect(hasFlag(["\\Seen"], "\\Deleted")).toBe(false);
    expect(hasFlag(["\\Seen2"], "\\Seen")).toBe(false);
    expect(hasFlag(["\\Seem"], "\\Seen")).toBe(false);
    expect(hasFlag([], "\\Seen")).toBe(false);
  });

  it("hasLowerFlag takes the lower-cased flag from its caller", () => {
    expect(hasLowerFlag(["Work"], "WORK", "work")).toBe(true);
    expect(hasLowerFlag(["Home"], "WORK", "work")).toBe(false);
  });
});

describe("normalizeFlags", () => {
  it("spells system flags canonically, drops \\Recent and repeats, keeps keywords as given", () => {
    expect(normalizeFlags(["\\seen", "\\SEEN", "\\Recent", "Work", "work", ""])).toEqual(["\\Seen", "Work"]);
  });
});
