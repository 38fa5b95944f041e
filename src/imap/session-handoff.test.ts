// Distributor mode: the session authenticates, then hands the connection, with
// every byte the client pipelined after its login, to whoever relays it.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { harness, type Harness } from "./session-test-support";
import type { SessionObserver } from "./observer";
import type { SessionHandoff } from "./session";

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.cleanup();
});

class RecordingHandoff implements SessionHandoff {
  opened: string[] = [];
  started: Buffer[] = [];
  closers: Array<() => void> = [];
  failWith: Error | undefined;
  async open(user: string): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.opened.push(user);
  }
  start(pending: Buffer, closed: () => void): void {
    this.started.push(pending);
    this.closers.push(closed);
  }
}

/** Counts the session opens and closes the metrics would see. */
function countingObserver(): { counts: { opened: number; closed: number }; observer: SessionObserver } {
  const counts = { opened: 0, closed: 0 };
  const observer: SessionObserver = {
    sessionOpened: () => counts.opened++,
    sessionClosed: () => counts.closed++,
    commandDone: () => undefined,
    authFailed: () => undefined,
  };
  return { counts, observer };
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("session handoff (distributor mode)", () => {
  it("answers LOGIN itself, then hands over the bytes pipelined behind it unframed", async () => {
    const handoff = new RecordingHandoff();
    const c = h.open({ handoff });
    c.take();
    // A synchronising literal after the login must reach the mail node as sent, not be answered here.
    c.send("a LOGIN alice secret\r\nb SELECT INBOX\r\nc APPEND INBOX {5}\r\n");
    const out = await c.waitTagged("a");
    expect(out).toMatch(/^a OK \[CAPABILITY [^\]]*IMAP4rev1[^\]]*\] Logged in\r\n$/);
    expect(out).not.toMatch(/^\+ /m);
    expect(handoff.opened).toEqual(["alice"]);
    expect(handoff.started.map((b) => b.toString())).toEqual(["b SELECT INBOX\r\nc APPEND INBOX {5}\r\n"]);
    // Inert afterwards: input is the relay's business now.
    c.send("d NOOP\r\n");
    await c.settle();
    expect(c.take()).toBe("");
  });

  it("keeps framing locally after a failed login, including what was pipelined behind it", async () => {
    const handoff = new RecordingHandoff();
    const c = h.open({ handoff });
    c.take();
    c.send("a LOGIN alice wrong\r\nb NOOP\r\nc LOGIN alice secret\r\nd SELECT INBOX\r\n");
    const out = await c.waitTagged("c");
    expect(out).toContain("a NO [AUTHENTICATIONFAILED]");
    expect(out).toContain("b OK");
    expect(out).toMatch(/c OK \[CAPABILITY/);
    expect(handoff.started.map((b) => b.toString())).toEqual(["d SELECT INBOX\r\n"]);
  });

  it("reads an AUTHENTICATE response line from the held bytes", async () => {
    const handoff = new RecordingHandoff();
    const c = h.open({ handoff });
    c.take();
    c.send(`a AUTHENTICATE PLAIN\r\n${b64("\0bob\0hunter2")}\r\nb LIST "" *\r\n`);
    const out = await c.waitTagged("a");
    expect(out).toMatch(/^\+ /m);
    expect(out).toMatch(/a OK \[CAPABILITY/);
    expect(handoff.opened).toEqual(["bob"]);
    expect(handoff.started.map((b) => b.toString())).toEqual(['b LIST "" *\r\n']);
  });

  it("answers NO [UNAVAILABLE] when no mail node can take the session, and stays usable", async () => {
    const handoff = new RecordingHandoff();
    handoff.failWith = new Error("no node up");
    const c = h.open({ handoff });
    c.take();
    c.send("a LOGIN alice secret\r\nb CAPABILITY\r\n");
    const out = await c.waitTagged("b");
    expect(out).toContain("a NO [UNAVAILABLE]");
    expect(out).toContain("* CAPABILITY");
    expect(out).toContain("b OK");
    expect(handoff.started).toEqual([]);
  });

  it("closes its metrics once, through the closer handed to the relay, so the relay need not keep the session", async () => {
    const { counts, observer } = countingObserver();
    const handoff = new RecordingHandoff();
    const c = h.open({ handoff, observer });
    c.take();
    await c.cmd("a LOGIN alice secret");
    expect(handoff.closers).toHaveLength(1);
    // The session's own close (its connection going away) no longer counts: the relay owns that now.
    c.session.onClose();
    expect(counts).toEqual({ opened: 1, closed: 0 });
    handoff.closers[0]!();
    handoff.closers[0]!();
    expect(counts).toEqual({ opened: 1, closed: 1 });
  });

  it("closes a session that was never handed off on its own close, once", async () => {
    const { counts, observer } = countingObserver();
    const c = h.open({ handoff: new RecordingHandoff(), observer });
    c.session.onClose();
    c.session.onClose();
    expect(counts).toEqual({ opened: 1, closed: 1 });
  });
});
