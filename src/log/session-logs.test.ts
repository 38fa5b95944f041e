// What a session writes to the log, at the most verbose level: every line
// names the node, role and session, and the user once known; no line ever
// holds a password (LOGIN, AUTHENTICATE PLAIN with SASL-IR) or message text.
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { harness, type Harness } from "../imap/session-test-support";
import { createLogger, sessionLogger } from "./logger";

const hs: Harness[] = [];
afterEach(async () => {
  for (const h of hs.splice(0)) await h.cleanup();
});

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  const log = createLogger({ level: "trace", node: "worker-7", role: "worker", destination });
  return { lines, log };
}

describe("session logs", () => {
  it("carry node, role, session and user, and never a password or message text", async () => {
    const h = await harness();
    hs.push(h);
    const { lines, log } = capture();
    const marker = "BODY-MARKER-7c1e9a";
    const saslPassword = "hunter2";
    const sasl = Buffer.from(`\0bob\0${saslPassword}`).toString("base64");

    const a = h.open({ log: sessionLogger(log, "sess-A"), limits: { maxLineLength: 8192, maxLiteralSize: 1 << 20, maxAppendSize: 1 << 19, slowCommandMs: 0 } });
    await a.waitFor("* OK");
    expect(await a.cmd("a1 LOGIN alice secret")).toMatch(/a1 OK/);
    const msg = `Subject: hello\r\n\r\n${marker}\r\n`;
    a.send(`a2 APPEND INBOX {${Buffer.byteLength(msg)}+}\r\n${msg}\r\n`);
    expect(await a.waitTagged("a2")).toMatch(/a2 OK/);
    expect(await a.cmd("a3 SELECT INBOX")).toMatch(/a3 OK/);
    expect(await a.cmd(`a4 SEARCH BODY ${marker}`)).toMatch(/a4 OK/);
    expect(await a.cmd("a5 LOGIN alice wrongpass")).toMatch(/a5 BAD|a5 NO/);

    const b = h.open({ log: sessionLogger(log, "sess-B"), limits: { maxLineLength: 8192, maxLiteralSize: 1 << 20, maxAppendSize: 1 << 19, slowCommandMs: 0 } });
    await b.waitFor("* OK");
    expect(await b.cmd(`b1 AUTHENTICATE PLAIN ${sasl}`)).toMatch(/b1 OK/);
    expect(await b.cmd("b2 LOGOUT")).toMatch(/b2 OK/);
    await a.settle();

    const all = lines.join("\n");
    expect(lines.length).toBeGreaterThan(8);
    for (const secret of ["secret", saslPassword, sasl, marker, "wrongpass"]) expect(all, secret).not.toContain(secret);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) {
      expect(r).toMatchObject({ node: "worker-7", role: "worker" });
      expect(["sess-A", "sess-B"]).toContain(r.session);
    }
    // With slowCommandMs 0 every command is logged as slow: by name, tag, status and time.
    const slow = records.filter((r) => r.msg === "slow command");
    expect(slow.map((r) => `${r.session} ${r.command} ${r.status}`)).toEqual(
      expect.arrayContaining(["sess-A LOGIN OK", "sess-A APPEND OK", "sess-A SELECT OK", "sess-A SEARCH OK", "sess-B AUTHENTICATE OK", "sess-B LOGOUT OK"]),
    );
    // After the login each line names the user.
    for (const r of slow.filter((r) => r.command !== "LOGIN" && r.command !== "AUTHENTICATE")) {
      expect(r.user, JSON.stringify(r)).toBe(r.session === "sess-A" ? "alice" : "bob");
    }
  });

  it("logs nothing as slow under the threshold", async () => {
    const h = await harness();
    hs.push(h);
    const { lines, log } = capture();
    const a = h.open({ log: sessionLogger(log, "s"), limits: { maxLineLength: 8192, maxLiteralSize: 1 << 20, maxAppendSize: 1 << 19, slowCommandMs: 60_000 } });
    await a.waitFor("* OK");
    await a.cmd("a1 LOGIN alice secret");
    await a.cmd("a2 NOOP");
    const records = lines.map((l) => JSON.parse(l) as { msg?: string; command?: string });
    expect(records.filter((r) => r.msg === "slow command")).toEqual([]);
    expect(records.filter((r) => r.msg === "command").map((r) => r.command)).toEqual(expect.arrayContaining(["LOGIN", "NOOP"]));
  });
});
