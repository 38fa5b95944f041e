import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeDir, startServer, type RunningServer } from "./support/server";
import { closeQuietly, connected } from "./support/imapflow-client";
import { simpleMessage } from "./support/messages";

let srv: RunningServer;
let uid: number;
const message = simpleMessage({ subject: "curl fetch", body: "Fetched by curl: marmalade 8812." });

interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile("curl", ["-k", "--silent", "--show-error", "--max-time", "15", ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === "number" ? (err as any).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs curl with -v too, so a failure shows the IMAP conversation curl had. */
async function curlExplained(args: string[]): Promise<CurlResult & { why: string }> {
  const res = await curl(args);
  if (res.code === 0) return { ...res, why: "" };
  const verbose = await curl(["-v", ...args]);
  return { ...res, why: `curl exit ${res.code}\n${verbose.stderr.split("\n").filter((l) => /^[<>*]/.test(l)).join("\n")}` };
}

beforeAll(async () => {
  srv = await startServer();
  const c = await connected(srv);
  try {
    const r = await c.append("INBOX", message, ["\\Flagged"]);
    if (!r || !r.uid) throw new Error("append gave no APPENDUID");
    uid = r.uid;
  } finally {
    await closeQuietly(c);
  }
});

afterAll(async () => {
  await srv?.stop();
  removeDir(srv?.dataDir);
});

describe("curl against charon dev", () => {
  it("lists the mailboxes over IMAPS", async () => {
    const r = await curlExplained([`imaps://127.0.0.1:${srv.imapsPort}/`, "--user", "alice:secret1"]);
    expect(r.code, r.why).toBe(0);
    const lines = r.stdout.trim().split(/\r?\n/);
    expect(lines.every((l) => l.startsWith("* LIST "))).toBe(true);
    const names = lines.map((l) => l.replace(/^\* LIST \(.*?\) (?:"."|NIL) /, "").replace(/^"(.*)"$/, "$1")).sort();
    expect(names).toEqual(["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]);
  });

  it("fetches a message by UID", async () => {
    const r = await curlExplained([`imaps://127.0.0.1:${srv.imapsPort}/INBOX;UID=${uid}`, "--user", "alice:secret1"]);
    expect(r.code, r.why).toBe(0);
    expect(r.stdout).toBe(message);
  });

  it("fetches only the body text with ;SECTION=TEXT", async () => {
    const r = await curlExplained([`imaps://127.0.0.1:${srv.imapsPort}/INBOX;UID=${uid};SECTION=TEXT`, "--user", "alice:secret1"]);
    expect(r.code, r.why).toBe(0);
    expect(r.stdout).toBe("Fetched by curl: marmalade 8812.\r\n");
  });

  it("runs a custom SEARCH and EXAMINE", async () => {
    const s = await curlExplained([`imaps://127.0.0.1:${srv.imapsPort}/INBOX`, "--user", "alice:secret1", "-X", "UID SEARCH BODY marmalade"]);
    expect(s.code, s.why).toBe(0);
    expect(s.stdout.trim()).toBe(`* SEARCH ${uid}`);
    const e = await curlExplained([`imaps://127.0.0.1:${srv.imapsPort}/`, "--user", "alice:secret1", "-X", "EXAMINE INBOX"]);
    expect(e.code, e.why).toBe(0);
    expect(e.stdout).toMatch(/^\* 1 EXISTS\r?$/m);
    expect(e.stdout).toMatch(/UIDVALIDITY \d+/);
  });

  it("upgrades the plain port with STARTTLS (--ssl-reqd) and lists", async () => {
    const r = await curlExplained([`imap://127.0.0.1:${srv.imapPort}/`, "--ssl-reqd", "--user", "alice:secret1"]);
    expect(r.code, r.why).toBe(0);
    expect(r.stdout).toMatch(/^\* LIST .*INBOX/m);
  });

  it("refuses a wrong password (curl exit 67: login denied)", async () => {
    const r = await curl([`imaps://127.0.0.1:${srv.imapsPort}/`, "--user", "alice:wrong"]);
    expect(r.code).toBe(67);
    expect(srv.alive()).toBe(true);
  });
});
