// A real kill -9: a child process appends and reports each acknowledged
// APPEND; the parent kills it mid-stream and checks every acknowledged
// message is on disk. The child loads the TypeScript sources through a tiny
// require hook built on the installed compiler (no build step, no tsx).

import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { createMailStore, type LevelMailStore } from "./mail-store";

const CHILD = `
const fs = require("node:fs");
const ts = require("typescript");
require.extensions[".ts"] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, "utf8"), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: filename,
  });
  module._compile(out.outputText, filename);
};
const { createMailStore } = require(process.env.MAILSTORE);
(async () => {
  const store = await createMailStore({ dir: process.env.DIR, replicaId: "w1", maxMessageSize: 1 << 20 });
  const user = await store.forUser("victim");
  let i = 0;
  // Several writers at once, so acknowledged writes share fsyncs (group commit).
  await Promise.all([0, 1, 2, 3].map(async () => {
    for (;;) {
      const n = i++;
      const body = Buffer.from("Subject: m" + n + "\\r\\n\\r\\nbody " + n + "\\r\\n");
      const r = await user.append("INBOX", body, n % 2 ? ["\\\\Seen"] : []);
      process.stdout.write("ack " + r.uid + " " + n + "\\n");
    }
  }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

let dir: string;
let store: LevelMailStore | undefined;
afterEach(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

it("keeps every acknowledged APPEND across kill -9", async () => {
  dir = await mkdtemp(join(tmpdir(), "charon-kill9-"));
  const child = spawn(process.execPath, ["-e", CHILD], {
    cwd: join(__dirname, "..", ".."),
    env: { ...process.env, DIR: dir, MAILSTORE: join(__dirname, "mail-store.ts") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const acked = new Map<number, number>();
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const [, uid, n] = buf.slice(0, nl).split(" ");
        buf = buf.slice(nl + 1);
        acked.set(Number(uid), Number(n));
      }
      if (acked.size >= 300) {
        child.kill("SIGKILL");
        resolve();
      }
    });
    child.on("exit", () => (acked.size >= 300 ? resolve() : reject(new Error(`child exited early: ${stderr}`))));
  });
  expect(await exited).toBe("SIGKILL");

  store = await createMailStore({ dir, replicaId: "w1", maxMessageSize: 1 << 20 });
  const box = await (await store.forUser("victim")).open("INBOX", true);
  const present = new Map(box.messages().map((m) => [m.uid, m]));
  for (const [uid, n] of acked) {
    const m = present.get(uid);
    expect(m, `acknowledged uid ${uid} lost`).toBeDefined();
    expect(m!.flags).toEqual(n % 2 ? ["\\Seen"] : []);
    expect((await box.body(uid)).toString()).toContain(`body ${n}\r\n`);
  }
  // UIDs stay strictly ascending after recovery.
  const next = await (await store.forUser("victim")).append("INBOX", Buffer.from("Subject: after\r\n\r\nx\r\n"), []);
  expect(next.uid).toBeGreaterThan(Math.max(...present.keys()));
});
