// spawnNode against a stand-in node: `node -e CODE --` runs CODE and takes the
// CLI path and role that spawnNode appends as plain arguments.
import { afterEach, describe, expect, it, vi } from "vitest";
import { spawnNode, stopNode, type NodeProcess } from "./node-process";

function standIn(code: string) {
  return spawnNode({ role: "worker", name: "w-test", configFile: "/nonexistent.yaml", nodeFlags: ["-e", code, "--"], readyTimeoutMs: 20_000 });
}

describe("spawnNode", () => {
  const started: NodeProcess[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(started.splice(0).map((p) => stopNode(p, 2000)));
  });

  it("resolves on the ready line with its fields, and passes on what the node prints afterwards", async () => {
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, "write").mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (String(chunk).startsWith("[w-test]")) {
        written.push(String(chunk));
        return true;
      }
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write);
    const code = [
      `console.log("starting up");`,
      `console.log("ready worker w-test internal=127.0.0.1:1 admin=http://127.0.0.1:2");`,
      // More than a pipe holds: a node that kept printing must not block on a full pipe.
      `for (let i = 0; i < 2000; i++) console.log("later line " + i + " " + "x".repeat(100));`,
      `setInterval(() => {}, 1000);`,
    ].join("\n");
    const p = await standIn(code);
    started.push(p);
    expect(p.ready).toEqual({ internal: "127.0.0.1:1", admin: "http://127.0.0.1:2" });
    await vi.waitFor(() => expect(written.length).toBe(2000), { timeout: 15_000 });
    expect(written[0]).toBe(`[w-test] later line 0 ${"x".repeat(100)}\n`);
    expect(written.some((l) => l.includes("starting up"))).toBe(false);
  });

  it("reports what the node printed when it exits before it is ready", async () => {
    await expect(standIn(`console.log("cannot read the config"); process.exit(3);`)).rejects.toThrow(/exited before it was ready \(exit code 3\): cannot read the config/);
  });
});
