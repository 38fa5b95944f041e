import { describe, expect, it } from "vitest";
import { canonicalPattern, impliedParents, MailboxPattern } from "./mailbox-pattern";
import { formatUidSet } from "./args";

describe("LIST patterns", () => {
  it("* crosses the separator, % does not", () => {
    const star = new MailboxPattern("Work/*");
    expect(star.matches("Work/a")).toBe(true);
    expect(star.matches("Work/a/b")).toBe(true);
    expect(star.matches("Work")).toBe(false);
    const pct = new MailboxPattern("Work/%");
    expect(pct.matches("Work/a")).toBe(true);
    expect(pct.matches("Work/a/b")).toBe(false);
    expect(pct.endsWithPercent).toBe(true);
  });

  it("treats regex characters literally and INBOX case-insensitively", () => {
    expect(new MailboxPattern("a.b").matches("axb")).toBe(false);
    expect(new MailboxPattern("a.b").matches("a.b")).toBe(true);
    expect(new MailboxPattern("(x)+").matches("(x)+")).toBe(true);
    expect(new MailboxPattern("inbox").matches("INBOX")).toBe(true);
    expect(new MailboxPattern("Inbox/%").matches("INBOX/Sub")).toBe(true);
    expect(new MailboxPattern("inbox").matches("inboxes")).toBe(false);
  });

  it("joins reference and pattern, and finds implied parents", () => {
    expect(canonicalPattern("Work/", "%")).toBe("Work/%");
    expect(canonicalPattern("Work/", "/x")).toBe("Work/x");
    expect(canonicalPattern("", "*")).toBe("*");
    expect([...impliedParents(["a/b/c", "a", "x/y"])].sort()).toEqual(["a/b", "x"]);
  });
});

describe("UID sets", () => {
  it("compresses runs and keeps order", () => {
    expect(formatUidSet([1, 2, 3, 5, 7, 8])).toBe("1:3,5,7:8");
    expect(formatUidSet([4])).toBe("4");
    expect(formatUidSet([])).toBe("");
  });
});
