import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { UserDirectory } from "../auth/user-directory";
import type { CliIo } from "./args";
import { UsageError } from "./usage";
import { parseUserArgs, runUser } from "./user";

const dirs: string[] = [];
function dataDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "charon-cli-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function io(stdin = "") {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: async () => stdin };
  return { out, err, cli };
}

describe("charon user", () => {
  it("adds, lists, changes and deletes users in DIR/users.json", async () => {
    const data = dataDir();
    const a = io();
    expect(await runUser(["add", "--data", data, "alice", "--password", "pw-one"], a.cli)).toBe(0);
    expect(a.out).toEqual([]);
    const b = io("pw-two\n");
    expect(await runUser(["add", "bob", "--data", data, "--password-stdin"], b.cli)).toBe(0);
    const l = io();
    expect(await runUser(["list", "--data", data], l.cli)).toBe(0);
    expect(l.out).toEqual(["alice", "bob"]);

    const file = path.join(data, "users.json");
    expect(readFileSync(file, "utf8")).not.toMatch(/pw-(one|two)/);
    const dir = await UserDirectory.open(file);
    expect(await dir.verify("alice", "pw-one")).toBe(true);
    expect(await dir.verify("bob", "pw-two")).toBe(true);

    const p = io();
    expect(await runUser(["passwd", "--data", data, "alice"], p.cli)).toBe(0);
    const [, name, , generated] = p.out[0].split(" ");
    expect(name).toBe("alice");
    expect(await (await UserDirectory.open(file)).verify("alice", generated)).toBe(true);

    expect(await runUser(["del", "--data", data, "bob"], io().cli)).toBe(0);
    const l2 = io();
    await runUser(["list", "--data", data], l2.cli);
    expect(l2.out).toEqual(["alice"]);
  });

  it("fails with exit 1 and a message for duplicates and unknown users", async () => {
    const data = dataDir();
    await runUser(["add", "--data", data, "alice", "--password", "x"], io().cli);
    const dup = io();
    expect(await runUser(["add", "--data", data, "alice", "--password", "x"], dup.cli)).toBe(1);
    expect(dup.err.join("\n")).toMatch(/already exists/);
    const missing = io();
    expect(await runUser(["del", "--data", data, "carol"], missing.cli)).toBe(1);
    expect(missing.err.join("\n")).toMatch(/no user carol/);
  });

  it("rejects bad command lines as usage errors", () => {
    for (const argv of [
      [],
      ["frob"],
      ["add"],
      ["add", "a b"],
      ["list", "extra"],
      ["del", "alice", "--password", "x"],
      ["add", "alice", "--password", "x", "--password-stdin"],
      ["add", "alice", "--bogus"],
    ]) {
      expect(() => parseUserArgs(argv), JSON.stringify(argv)).toThrow(UsageError);
    }
  });
});
