import { Writable } from "node:stream";
import { describe, expect, it, vi } from "vitest";
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

  it("builds a session's pino children only when a line is written at an enabled level", () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: "info", destination });
    const made = vi.spyOn(log, "child");
    const session = sessionLogger(log, "s1", { remote: "127.0.0.1:1" });
    const user = session.child({ user: "alice" });
    user.debug("not at info");
    expect(user.isLevelEnabled("debug")).toBe(false);
    expect(made).not.toHaveBeenCalled();
    user.warn({ args: { password: "hunter2" } }, "odd");
    session.info("plain");
    // The session's child and the user's (pino children inherit the spied method).
    expect(made).toHaveBeenCalledTimes(2);
    expect(lines).toMatchObject([
      { session: "s1", remote: "127.0.0.1:1", user: "alice", msg: "odd", level: 40, args: { password: "[redacted]" } },
      { session: "s1", remote: "127.0.0.1:1", msg: "plain", level: 30 },
    ]);
    expect(lines[1]).not.toHaveProperty("user");
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
