import { scryptSync } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { getPriority } from "node:os";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hashPassword, verifyPassword } from "./password";
import { ScryptThreads } from "./scrypt-threads";

const OPTIONS = { N: 1 << 10, r: 8, p: 1, maxmem: 32 * 1024 * 1024 };
const pools: ScryptThreads[] = [];
function pool(size: number, idleMs?: number): ScryptThreads {
  const p = new ScryptThreads(size, undefined, idleMs);
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

/** Nice values of this process's threads, from /proc (field 19 of each task's stat). */
function threadNiceValues(): number[] {
  return readdirSync("/proc/self/task").map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  });
}

describe("ScryptThreads", () => {
  it("derives the same key as crypto.scryptSync, queueing calls beyond its size", async () => {
    const threads = pool(1);
    const salts = ["a", "b", "c"].map((s) => Buffer.from(`salt-${s}`));
    const keys = await Promise.all(salts.map((salt) => threads.derive("pw", salt, 32, OPTIONS)));
    expect(keys.map((k) => k.toString("hex"))).toEqual(salts.map((salt) => scryptSync("pw", salt, 32, OPTIONS).toString("hex")));
    expect(threads.threadCount).toBe(1);
  });

  it("serves hashPassword and verifyPassword", async () => {
    const threads = pool(2);
    const stored = await hashPassword("secret", { N: 1 << 10, r: 8, p: 1 }, threads.derive);
    expect(await verifyPassword("secret", stored, threads.derive)).toBe(true);
    expect(await verifyPassword("Secret", stored, threads.derive)).toBe(false);
    // The hash is an ordinary one: the thread pool of libuv verifies it too.
    expect(await verifyPassword("secret", stored)).toBe(true);
  });

  it("rejects a call scrypt refuses and keeps serving the next", async () => {
    const threads = pool(1);
    await expect(threads.derive("pw", Buffer.from("salt"), 32, { ...OPTIONS, N: 1000 })).rejects.toThrow(/N|param|invalid/i);
    const key = await threads.derive("pw", Buffer.from("salt"), 32, OPTIONS);
    expect(key.equals(scryptSync("pw", Buffer.from("salt"), 32, OPTIONS))).toBe(true);
  });

  it.skipIf(process.platform !== "linux" || getPriority() > 9)("runs its threads 10 nice levels below the process", async () => {
    const base = getPriority();
    expect(threadNiceValues().filter((n) => n === base + 10)).toEqual([]);
    const threads = pool(2);
    await Promise.all([threads.derive("pw", Buffer.from("s1"), 32, OPTIONS), threads.derive("pw", Buffer.from("s2"), 32, OPTIONS)]);
    expect(threads.threadCount).toBe(2);
    expect(threadNiceValues().filter((n) => n === base + 10)).toHaveLength(2);
    // The calling thread keeps its priority.
    expect(getPriority()).toBe(base);
  });

  it("ends a thread left idle, and starts a new one for the next call", async () => {
    const threads = pool(2, 50);
    const tasks = () => readdirSync("/proc/self/task").length;
    const before = tasks();
    await Promise.all([threads.derive("pw", Buffer.from("s1"), 32, OPTIONS), threads.derive("pw", Buffer.from("s2"), 32, OPTIONS)]);
    expect(threads.threadCount).toBe(2);
    expect(tasks()).toBeGreaterThan(before);
    await vi.waitFor(() => {
      expect(threads.threadCount).toBe(0);
      expect(tasks()).toBeLessThanOrEqual(before);
    }, { timeout: 5000 });
    const key = await threads.derive("pw", Buffer.from("s3"), 32, OPTIONS);
    expect(key.equals(scryptSync("pw", Buffer.from("s3"), 32, OPTIONS))).toBe(true);
    expect(threads.threadCount).toBe(1);
  });

  it("close() rejects queued and later calls and ends its threads", async () => {
    const threads = new ScryptThreads(1);
    const heavy = { N: 1 << 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
    const running = threads.derive("pw", Buffer.from("s1"), 32, heavy);
    const queued = threads.derive("pw", Buffer.from("s2"), 32, heavy);
    const closing = threads.close();
    await expect(queued).rejects.toThrow(/shut down/);
    await expect(running).rejects.toThrow(/exited|shut down/);
    await closing;
    expect(threads.threadCount).toBe(0);
    await expect(threads.derive("pw", Buffer.from("s3"), 32, OPTIONS)).rejects.toThrow(/shut down/);
  });
});
