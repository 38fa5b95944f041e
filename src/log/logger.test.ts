import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, sessionLogger } from "./logger";

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { lines, destination };
}

describe("createLogger", () => {
  it("writes JSON with node and role, and session children add their fields", () => {
    const { lines, destination } = capture();
    const log = createLogger({ node: "n1", role: "worker", destination });
    sessionLogger(log, "s1").child({ user: "alice" }).info("logged in");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ node: "n1", role: "worker", session: "s1", user: "alice", msg: "logged in", level: 30 });
  });

  it("redacts password fields at any of the first three levels", () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination });
    log.info({ password: "hunter2", args: { password: "hunter3", user: "bob" }, deep: { a: { pass: "hunter4" } } }, "x");
    const text = JSON.stringify(lines);
    expect(text).not.toMatch(/hunter[234]/);
    expect(lines[0]).toMatchObject({ args: { user: "bob", password: "[redacted]" } });
  });

  it("honours the level", () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: "warn", destination });
    log.info("hidden");
    log.warn("shown");
    expect(lines.map((l) => l.msg)).toEqual(["shown"]);
  });
});
