// The LMTP-to-APPEND shim against charon's real listener, IMAP engine and
// LevelDB store: pipelined LMTP commands, one DATA reply per recipient, a
// "+Mailbox" detail, an unknown recipient, dot-stuffing; then the messages
// are read back over IMAP.
import * as net from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTestListener, type TestListener } from "../../src/server/listener-test-support";
import { login } from "../scenarios/common";
import type { ServerUnderTest } from "../servers/server";
import { LmtpToImap, recipientOf } from "./lmtp-append";

/** Sends LMTP lines and collects reply lines until `count` replies (a multi-line reply counts once). */
async function lmtp(port: number, script: string, count: number): Promise<string[]> {
  const sock = net.connect({ host: "127.0.0.1", port });
  const replies: string[] = [];
  let buf = "";
  await new Promise<void>((resolve, reject) => {
    sock.on("error", reject);
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      let nl: number;
      while ((nl = buf.indexOf("\r\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        if (line[3] === " ") replies.push(line);
        if (replies.length === 1 && line.startsWith("220")) sock.write(script);
        if (replies.length === count) resolve();
      }
    });
  });
  sock.destroy();
  return replies;
}

describe("LmtpToImap", () => {
  let charon: TestListener;
  let server: ServerUnderTest;
  let shim: LmtpToImap | undefined;
  const alice = { name: "alice@example.test", password: "wonderland" };

  beforeEach(async () => {
    charon = await startTestListener({ [alice.name]: alice.password });
    server = { name: "charon", host: "127.0.0.1", port: charon.bound.imaps!.port, unquotedLogin: false, users: [alice] } as unknown as ServerUnderTest;
  });
  afterEach(async () => {
    await shim?.close();
    await charon.close();
  });

  it("answers DATA once per recipient and appends to INBOX and to the detail mailbox", async () => {
    shim = await LmtpToImap.start(server, [alice]);
    const message = "Subject: hi\r\n\r\n..leading dot\r\nbye\r\n";
    const script = `LHLO test\r\nMAIL FROM:<s@example.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<alice+Spam@example.test>\r\nDATA\r\n${message}.\r\nQUIT\r\n`;
    const replies = await lmtp(shim.port, script, 10);
    expect(replies).toEqual([
      expect.stringMatching(/^220 /),
      expect.stringMatching(/^250 /), // LHLO
      expect.stringMatching(/^250 /), // MAIL
      expect.stringMatching(/^250 /), // RCPT alice
      expect.stringMatching(/^550 /), // RCPT nobody
      expect.stringMatching(/^250 /), // RCPT alice+Spam
      expect.stringMatching(/^354 /),
      "250 delivered", // alice
      "250 delivered", // alice+Spam
      expect.stringMatching(/^221 /),
    ]);
    expect(shim.delivered).toBe(2);
    expect(shim.failures).toEqual([]);

    // The stored message is the one sent, its dot-stuffing undone.
    const stored = Buffer.byteLength(message.replace("..leading", ".leading"));
    const c = await login(server, alice);
    for (const box of ["INBOX", "Spam"]) {
      expect((await c.command(`SELECT ${box}`)).untagged.map((u) => u.text)).toContain("* 1 EXISTS");
      const size = await c.command("FETCH 1 (RFC822.SIZE)");
      expect(size.untagged.map((u) => u.text)).toContain(`* 1 FETCH (RFC822.SIZE ${stored})`);
    }
    c.close();
  });

  it("reads the user and the mailbox from a recipient address", () => {
    expect(recipientOf("alice@example.test")).toEqual({ user: "alice@example.test", mailbox: "INBOX" });
    expect(recipientOf("alice+Spam@example.test")).toEqual({ user: "alice@example.test", mailbox: "Spam" });
  });

  it("refuses DATA without a valid recipient and reports a failed append", async () => {
    shim = await LmtpToImap.start(server, [alice, { name: "ghost@example.test", password: "x" }]);
    const replies = await lmtp(shim.port, "LHLO t\r\nMAIL FROM:<>\r\nDATA\r\nRCPT TO:<ghost@example.test>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\nQUIT\r\n", 8);
    expect(replies.slice(3)).toEqual([
      expect.stringMatching(/^503 /), // DATA before any RCPT
      expect.stringMatching(/^250 /), // ghost is a user the shim knows...
      expect.stringMatching(/^354 /),
      expect.stringMatching(/^451 /), // ...but not the server: its LOGIN fails, and so does the delivery
      expect.stringMatching(/^221 /),
    ]);
    expect(shim.delivered).toBe(0);
    expect(shim.failures).toHaveLength(1);
  });
});
