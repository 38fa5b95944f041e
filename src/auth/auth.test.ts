import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_SCRYPT, hashPassword, isPasswordHash, parseHash, randomPassword, verifyPassword } from "./password";
import { UserDirectory, UserDirectoryError } from "./user-directory";
import { isValidUsername, usernameProblem } from "./username";

/** Cheap parameters keep the suite fast; the production default gets its own round-trip test. */
const FAST = { N: 1 << 10, r: 8, p: 1 };

const dirs: string[] = [];
function usersFile(): string {
  const d = mkdtempSync(path.join(tmpdir(), "charon-auth-"));
  dirs.push(d);
  return path.join(d, "users.json");
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("password hashes", () => {
  it("round-trips with the default parameters and records them in the string", async () => {
    const stored = await hashPassword("correct horse");
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(parseHash(stored)).toMatchObject(DEFAULT_SCRYPT);
    expect(await verifyPassword("correct horse", stored)).toBe(true);
    expect(await verifyPassword("correct horsf", stored)).toBe(false);
  });

  it("salts: the same password hashes differently each time", async () => {
    const a = await hashPassword("pw", FAST);
    const b = await hashPassword("pw", FAST);
    expect(a).not.toBe(b);
    expect(await verifyPassword("pw", a)).toBe(true);
    expect(await verifyPassword("pw", b)).toBe(true);
  });

  it("treats Unicode passwords by their NFC form", async () => {
    const stored = await hashPassword("caf\u00e9", FAST);
    expect(await verifyPassword("cafe\u0301", stored)).toBe(true);
    expect(await verifyPassword("cafe", stored)).toBe(false);
  });

  it("never matches malformed or hostile stored strings", async () => {
    for (const bad of ["", "plaintext", "scrypt$3$8$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "scrypt$1073741824$8$1$AAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAA"]) {
      expect(isPasswordHash(bad)).toBe(false);
      expect(await verifyPassword("plaintext", bad)).toBe(false);
    }
  });

  it("generates distinct random passwords", () => {
    const a = randomPassword();
    expect(a).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(randomPassword()).not.toBe(a);
  });
});

describe("usernames", () => {
  it("accepts ordinary names, addresses and non-ASCII", () => {
    for (const ok of ["alice", "bob.smith@example.com", "jürgen", "x".repeat(255)]) expect(isValidUsername(ok)).toBe(true);
  });
  it("refuses empty, long, spaced, control-character and colon names", () => {
    for (const bad of ["", "x".repeat(256), "ü".repeat(128), "a b", "a\tb", "a\r\nb", "a\u0000", "a:b", "\u200b", "a\ud800"]) {
      expect(usernameProblem(bad), JSON.stringify(bad)).toBeDefined();
    }
  });
});

describe("UserDirectory", () => {
  it("adds users, verifies them, and keeps only hashes on disk", async () => {
    const file = usersFile();
    const dir = await UserDirectory.open(file, { scrypt: FAST });
    await dir.addUser("alice", "s3cret-alice");
    await dir.addUser("bob", "s3cret-bob");
    expect(await dir.verify("alice", "s3cret-alice")).toBe(true);
    expect(await dir.verify("alice", "s3cret-bob")).toBe(false);
    expect(await dir.verify("carol", "s3cret-alice")).toBe(false);
    expect(dir.listUsers()).toEqual(["alice", "bob"]);

    const text = readFileSync(file, "utf8");
    expect(text).not.toContain("s3cret");
    const json = JSON.parse(text) as Record<string, string>;
    expect(Object.keys(json)).toEqual(["alice", "bob"]);
    expect(isPasswordHash(json.alice)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("reopens from disk", async () => {
    const file = usersFile();
    await (await UserDirectory.open(file, { scrypt: FAST })).addUser("alice", "pw1");
    const again = await UserDirectory.open(file);
    expect(again.listUsers()).toEqual(["alice"]);
    expect(await again.verify("alice", "pw1")).toBe(true);
  });

  it("changes and deletes users; the cache does not outlive a password change", async () => {
    const dir = await UserDirectory.open(usersFile(), { scrypt: FAST });
    await dir.addUser("alice", "old");
    expect(await dir.verify("alice", "old")).toBe(true);
    expect(await dir.verify("alice", "old")).toBe(true); // served from the cache
    await dir.setPassword("alice", "new");
    expect(await dir.verify("alice", "old")).toBe(false);
    expect(await dir.verify("alice", "new")).toBe(true);
    await dir.deleteUser("alice");
    expect(await dir.verify("alice", "new")).toBe(false);
    expect(dir.listUsers()).toEqual([]);
  });

  it("reports duplicates, missing users and invalid names with codes", async () => {
    const dir = await UserDirectory.open(usersFile(), { scrypt: FAST });
    await dir.addUser("alice", "pw");
    const code = async (p: Promise<unknown>) => ((await p.then(() => undefined, (e: unknown) => e)) as UserDirectoryError)?.code;
    expect(await code(dir.addUser("alice", "pw"))).toBe("EXISTS");
    expect(await code(dir.setPassword("bob", "pw"))).toBe("NOTFOUND");
    expect(await code(dir.deleteUser("bob"))).toBe("NOTFOUND");
    expect(await code(dir.addUser("a b", "pw"))).toBe("INVALID");
    expect(await dir.upsertUser("alice", "pw2")).toBe(false);
    expect(await dir.upsertUser("bob", "pw3")).toBe(true);
    expect(await dir.verify("alice", "pw2")).toBe(true);
  });

  it("keeps every user when many are added concurrently", async () => {
    const dir = await UserDirectory.open(usersFile(), { scrypt: FAST });
    const names = Array.from({ length: 12 }, (_, i) => `user${i}`);
    await Promise.all(names.map((n) => dir.addUser(n, `pw-${n}`)));
    expect(dir.listUsers()).toEqual([...names].sort());
    expect(await dir.verify("user7", "pw-user7")).toBe(true);
  });

  it("handles a user called __proto__ as a plain name", async () => {
    const file = usersFile();
    const dir = await UserDirectory.open(file, { scrypt: FAST });
    await dir.addUser("__proto__", "pw");
    const again = await UserDirectory.open(file);
    expect(again.listUsers()).toEqual(["__proto__"]);
    expect(await again.verify("__proto__", "pw")).toBe(true);
  });

  it("picks up edits made by another process", async () => {
    const file = usersFile();
    const server = await UserDirectory.open(file, { scrypt: FAST, reloadCheckMs: 0 });
    const cli = await UserDirectory.open(file, { scrypt: FAST });
    await cli.addUser("late", "pw");
    expect(await server.verify("late", "pw")).toBe(true);
  });

  it("refuses a file with a plaintext entry without echoing it", async () => {
    const file = usersFile();
    writeFileSync(file, JSON.stringify({ alice: "hunter2" }));
    const err = await UserDirectory.open(file).then(() => undefined, (e: unknown) => e as UserDirectoryError);
    expect(err?.code).toBe("CORRUPT");
    expect(err?.message).not.toContain("hunter2");
  });
});
