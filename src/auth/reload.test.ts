// The user directory follows edits made by another process (the built CLI,
// `npm run build` first), through fs.watch and through the polling fallback.
import { execFile } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { UserDirectory } from "./user-directory";

const CLI = path.resolve(__dirname, "../../dist/src/cli/main.js");
const FAST = { N: 1024, r: 8, p: 1 };

function cli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH } }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`charon ${args.join(" ")} failed: ${stderr}`));
      else resolve();
    });
  });
}

const dirs: string[] = [];
const open: UserDirectory[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "charon-users-reload-"));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const u of open.splice(0)) await u.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
});

async function openDir(file: string, pollMs?: number): Promise<UserDirectory> {
  const d = await UserDirectory.open(file, { scrypt: FAST, watch: { pollMs: pollMs ?? 60_000 } });
  open.push(d);
  return d;
}

describe("UserDirectory reload", () => {
  it("picks up a user added by `charon user add` in another process (fs.watch)", async () => {
    const data = tempDir();
    const file = path.join(data, "users.json");
    // the slow poll leaves this to fs.watch
    const users = await openDir(file);
    const events: Array<{ users: number }> = [];
    users.on("reload", (e) => events.push(e));
    // an in-process write is not a reload
    await users.addUser("alice", "pw-alice");

    const reloaded = once(users, "reload");
    await cli(["user", "add", "carol", "--data", data, "--password", "pw-carol"]);
    const [event] = await reloaded;
    expect(event).toEqual({ users: 2 });
    expect(events).toEqual([{ users: 2 }]);
    expect(users.listUsers()).toEqual(["alice", "carol"]);
    expect(await users.verify("carol", "pw-carol")).toBe(true);

    const again = once(users, "reload");
    await cli(["user", "del", "alice", "--data", data]);
    expect((await again)[0]).toEqual({ users: 1 });
    expect(users.has("alice")).toBe(false);
    expect(await users.verify("alice", "pw-alice")).toBe(false);
  });

  it("falls back to stat polling when fs.watch cannot start (directory created later)", async () => {
    const parent = tempDir();
    const data = path.join(parent, "later");
    const users = await openDir(path.join(data, "users.json"), 20);
    expect(users.listUsers()).toEqual([]);
    const reloaded = once(users, "reload");
    // the CLI creates the directory and the file
    await cli(["user", "add", "dave", "--data", data, "--password", "pw-dave"]);
    expect((await reloaded)[0]).toEqual({ users: 1 });
    expect(await users.verify("dave", "pw-dave")).toBe(true);
  });

  it("a broken edit reports reloadError and keeps the last good copy until it is fixed", async () => {
    const data = tempDir();
    const file = path.join(data, "users.json");
    const users = await openDir(file, 20);
    await users.addUser("erin", "pw-erin");

    const failed = once(users, "reloadError");
    await writeFile(file, "{ not json");
    const [err] = await failed;
    expect(String(err)).toMatch(/not valid JSON/);
    expect(users.has("erin")).toBe(true);
    expect(await users.verify("erin", "pw-erin")).toBe(true);

    // the operator fixes the file by hand (the CLI refuses to edit a corrupt one)
    const fixed = once(users, "reload");
    await writeFile(file, "{}\n");
    expect((await fixed)[0]).toEqual({ users: 0 });
    expect(await users.verify("erin", "pw-erin")).toBe(false);

    const reloaded = once(users, "reload");
    await cli(["user", "add", "frank", "--data", data, "--password", "pw-frank"]);
    expect((await reloaded)[0]).toEqual({ users: 1 });
    expect(users.listUsers()).toEqual(["frank"]);
  });

  it("close() stops watching and leaves no timer keeping the process alive", async () => {
    const data = tempDir();
    const users = await openDir(path.join(data, "users.json"), 20);
    await users.close();
    await users.close();
    // after close, start is refused
    users.startWatching();
    expect((users as unknown as { pollTimer?: unknown }).pollTimer).toBeUndefined();
    expect((users as unknown as { watcher?: unknown }).watcher).toBeUndefined();
  });
});
