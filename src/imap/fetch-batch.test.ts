// FETCH of index attributes (UID, FLAGS, INTERNALDATE, RFC822.SIZE) is built
// in batches without an await per message (commands/fetch.ts fetchMeta). Its
// bytes must be exactly those of one response per message, and the SEARCH
// fast path for a single flag key must agree with the general evaluator.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { harness, sampleMessage, type Harness } from "./session-test-support";

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.cleanup();
});

function lines(text: string): string[] {
  return text.split("\r\n").filter((l) => l.length > 0);
}

/** Appends `n` messages straight into the store; message i gets `flags(i)`. */
async function seed(n: number, flags: (i: number) => string[]): Promise<void> {
  const user = await h.store.store.forUser("alice");
  for (let i = 1; i <= n; i++) await user.append("INBOX", Buffer.from(sampleMessage(`m${i}`, "x".repeat(i % 50) + "\r\n")), flags(i));
}

const FLAGS_OF = (i: number): string[] => (i % 3 === 0 ? ["\\Seen"] : i % 3 === 1 ? [] : ["\\Seen", "\\Flagged", "$Work"]);

describe("FETCH of index attributes", () => {
  it("sends the same bytes as one FETCH per message, with \\Recent and keywords", async () => {
    await seed(12, FLAGS_OF);
    const c = await h.login();
    const sel = await c.cmd("a SELECT INBOX");
    expect(sel).toContain("$Work");
    const one: string[] = [];
    for (let i = 1; i <= 12; i++) one.push(...lines(await c.cmd(`x${i} FETCH ${i} (FLAGS UID INTERNALDATE RFC822.SIZE)`)).slice(0, -1));
    const all = lines(await c.cmd("b FETCH 1:* (FLAGS UID INTERNALDATE RFC822.SIZE)"));
    expect(all.at(-1)).toBe("b OK FETCH completed");
    expect(all.slice(0, -1)).toEqual(one);
    expect(one[0]).toMatch(/^\* 1 FETCH \(FLAGS \(\\Recent\) UID 1 INTERNALDATE "[^"]+" RFC822.SIZE \d+\)$/);
    expect(one[1]).toMatch(/^\* 2 FETCH \(FLAGS \(\$Work \\Flagged \\Seen \\Recent\) UID 2 /);
  });

  it("UID FETCH puts UID first and answers every message across several batches, in order", async () => {
    const n = 2500; // about 100 KB of responses: more than one batch
    await seed(n, FLAGS_OF);
    const c = await h.login();
    // SELECT takes the messages' \Recent, so the read-only view below reports none.
    await c.cmd("a0 SELECT INBOX");
    await c.cmd("a EXAMINE INBOX");
    const all = lines(await c.cmd("b UID FETCH 1:* (FLAGS)"));
    expect(all.length).toBe(n + 1);
    expect(all.at(-1)).toBe("b OK FETCH completed");
    for (let i = 1; i <= n; i++) {
      const want = FLAGS_OF(i).length === 0 ? "()" : FLAGS_OF(i).length === 1 ? "(\\Seen)" : null;
      expect(all[i - 1]).toBe(`* ${i} FETCH (UID ${i} FLAGS ${want ?? "($Work \\Flagged \\Seen)"})`);
    }
    const search = lines(await c.cmd("c SEARCH UNSEEN"));
    const expected: number[] = [];
    for (let i = 1; i <= n; i++) if (!FLAGS_OF(i).includes("\\Seen")) expected.push(i);
    expect(search[0]).toBe(`* SEARCH ${expected.join(" ")}`);
    const general = lines(await c.cmd("d SEARCH NOT SEEN ALL"));
    expect(general[0]).toBe(search[0]);
    expect(lines(await c.cmd("e SEARCH unkeyword $work"))[0]!.split(" ").length - 2).toBe(n - Math.floor((n + 1) / 3));
  });

  it("a FETCH FLAGS after another session's STORE reports the new flags", async () => {
    await seed(3, () => []);
    const a = await h.login();
    const b = await h.login();
    await a.cmd("a SELECT INBOX");
    await b.cmd("b SELECT INBOX");
    await b.cmd("c STORE 2 +FLAGS.SILENT ($New)");
    const r = lines(await a.cmd("d FETCH 1:3 (FLAGS)"));
    expect(r).toContain("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $New)");
    expect(r.filter((l) => l.startsWith("* 2 FETCH")).at(-1)).toBe("* 2 FETCH (FLAGS ($New \\Recent))");
    expect(r.at(-1)).toBe("d OK FETCH completed");
  });
});
