// mbsync (Debian's isync) syncs a Maildir both ways against charon over IMAPS:
// a real client that checks UIDs, UIDVALIDITY, flags and APPENDUID strictly.
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeQuietly, connected } from "./support/imapflow-client";
import { simpleMessage } from "./support/messages";
import { makeDataDir, removeDir, REPO_ROOT, startServer, type RunningServer } from "./support/server";

let srv: RunningServer;
let work: string;
let configFile: string;
let maildir: string;

/** The server's own certificate, so mbsync can verify exactly that one. */
function fetchCertificatePem(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, rejectUnauthorized: false }, () => {
      const der = s.getPeerCertificate().raw;
      s.destroy();
      // node:crypto writes the PEM (a hand-made one got a blank line whenever the base64 length was a multiple of 64).
      resolve(new X509Certificate(der).toString());
    });
    s.once("error", reject);
  });
}

function mbsync(): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile("mbsync", ["-c", configFile, "-a"], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1) : 0;
      resolve({ code, out: stdout + stderr });
    });
  });
}

function files(dir: string): string[] {
  return ["new", "cur"].flatMap((sub) => {
    try {
      return readdirSync(path.join(dir, sub)).map((f) => path.join(sub, f));
    } catch {
      return [];
    }
  });
}

beforeAll(async () => {
  execFileSync(path.join(REPO_ROOT, "scripts", "ensure-debian-packages.sh"), ["mbsync:isync"], { stdio: "inherit" });
  srv = await startServer();
  work = makeDataDir("charon-mbsync-");
  maildir = path.join(work, "mail");
  mkdirSync(maildir);
  const certFile = path.join(work, "server.pem");
  writeFileSync(certFile, await fetchCertificatePem(srv.host, srv.imapsPort));
  configFile = path.join(work, "mbsyncrc");
  writeFileSync(
    configFile,
    [
      "IMAPAccount charon",
      `Host ${srv.host}`,
      `Port ${srv.imapsPort}`,
      "User alice",
      "Pass secret1",
      "SSLType IMAPS",
      "SystemCertificates no",
      `CertificateFile ${certFile}`,
      "",
      "IMAPStore remote",
      "Account charon",
      "",
      "MaildirStore local",
      `Path ${maildir}/`,
      `Inbox ${maildir}/INBOX`,
      "SubFolders Verbatim",
      "",
      "Channel sync",
      "Far :remote:",
      "Near :local:",
      "Patterns *",
      "Create Both",
      "Expunge Both",
      "SyncState *",
      "",
    ].join("\n"),
  );
  const c = await connected(srv);
  try {
    for (let i = 1; i <= 3; i++) await c.append("INBOX", simpleMessage({ subject: `server ${i}`, body: `body ${i}` }), i === 1 ? ["\\Seen"] : []);
    await c.mailboxCreate("Projects");
    await c.append("Projects", simpleMessage({ subject: "in a folder", body: "folder body" }));
  } finally {
    await closeQuietly(c);
  }
}, 180_000);

afterAll(async () => {
  await srv?.stop();
  removeDir(srv?.dataDir);
  removeDir(work);
});

describe("mbsync against charon", () => {
  it("pulls every mailbox and message, with flags", async () => {
    const r = await mbsync();
    expect(r.code, r.out).toBe(0);
    const inbox = files(path.join(maildir, "INBOX"));
    expect(inbox).toHaveLength(3);
    // Maildir keeps \Seen as the S in the ":2," info part of the file name.
    expect(inbox.filter((f) => /:2,[A-Z]*S/.test(f))).toHaveLength(1);
    expect(files(path.join(maildir, "Projects"))).toHaveLength(1);
    expect(readdirSync(maildir).sort()).toEqual(expect.arrayContaining(["Archive", "Drafts", "INBOX", "Junk", "Projects", "Sent", "Trash"]));
  });

  it("pushes a local message and a local flag change, then a second run has nothing to do", async () => {
    const inboxDir = path.join(maildir, "INBOX");
    writeFileSync(path.join(inboxDir, "new", `${Date.now()}.local.mbsynctest`), simpleMessage({ subject: "written locally", body: "from the maildir" }));
    const unseen = files(inboxDir).find((f) => f.startsWith("cur/") && !/:2,[A-Z]*S/.test(f)) ?? files(inboxDir).find((f) => !/S$/.test(f))!;
    const from = path.join(inboxDir, unseen);
    const base = path.basename(unseen).replace(/:2,.*$/, "");
    renameSync(from, path.join(inboxDir, "cur", `${base}:2,F`));

    const r = await mbsync();
    expect(r.code, r.out).toBe(0);
    const c = await connected(srv);
    try {
      const lock = await c.getMailboxLock("INBOX");
      try {
        const msgs = [];
        for await (const m of c.fetch("1:*", { envelope: true, flags: true, uid: true })) msgs.push(m);
        expect(msgs.map((m) => m.envelope?.subject)).toContain("written locally");
        expect(msgs).toHaveLength(4);
        expect(msgs.filter((m) => m.flags?.has("\\Flagged"))).toHaveLength(1);
      } finally {
        lock.release();
      }
    } finally {
      await closeQuietly(c);
    }
    const again = await mbsync();
    expect(again.code, again.out).toBe(0);
    expect(files(inboxDir)).toHaveLength(4);
  });
});
