import { afterEach, describe, expect, it } from "vitest";
import { harness, type Harness } from "../imap/session-test-support";
import { EVERY_NODE_FAMILIES, MAIL_NODE_FAMILIES } from "./families";
import { createMetrics, type Metrics } from "./index";
import { parsePrometheusText, sampleValue } from "./parse";

const NAMES = [
  ...EVERY_NODE_FAMILIES,
  ...MAIL_NODE_FAMILIES,
  "charon_process_cpu_user_seconds_total",
  "charon_nodejs_heap_size_used_bytes",
];

let h: Harness | undefined;
const open: Metrics[] = [];
function metrics(node = "w1", role = "worker"): Metrics {
  const m = createMetrics({ node, role });
  open.push(m);
  return m;
}

afterEach(async () => {
  await h?.cleanup();
  h = undefined;
  for (const m of open.splice(0)) m.close();
});

describe("metrics fed by a real ImapSession", () => {
  it("exports every family, counts commands by status, and tracks sessions", async () => {
    h = await harness();
    const m = metrics();
    m.watchDirectorySize(h.store.dir);
    const observer = m.sessionObserver();

    const c = await h.login("alice", { observer });
    const before = parsePrometheusText(await m.text());
    expect(sampleValue(before, "charon_sessions_active")).toBe(1);

    expect(await c.cmd("a1 SELECT INBOX")).toContain("a1 OK");
    expect(await c.cmd("a2 NOOP")).toContain("a2 OK");
    expect(await c.cmd("a3 SELECT nosuchbox")).toContain("a3 NO");
    expect(await c.cmd("a4 FROBNICATE now")).toContain("a4 BAD");
    expect(await c.cmd("a5 XYZZY")).toContain("a5 BAD");
    expect(await c.cmd("a6 SELECT INBOX")).toContain("a6 OK");
    expect(await c.cmd("a7 UID FETCH 1:* FLAGS")).toContain("a7 OK");
    expect(await c.cmd("a8 FETCH")).toContain("a8 BAD");

    const bad = h.open({ observer });
    bad.take();
    expect(await bad.cmd("b1 LOGIN alice wrong")).toContain("b1 NO [AUTHENTICATIONFAILED]");
    expect(await bad.cmd("b2 LOGIN alice")).toContain("b2 BAD");

    const text = await m.text();
    for (const name of NAMES) expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
    const fam = parsePrometheusText(text);

    // every series carries the default labels
    expect(sampleValue(fam, "charon_commands_total", { command: "LOGIN", status: "OK", node: "w1", role: "worker" })).toBe(1);
    expect(sampleValue(fam, "charon_commands_total", { command: "SELECT", status: "OK" })).toBe(2);
    expect(sampleValue(fam, "charon_commands_total", { command: "SELECT", status: "NO" })).toBe(1);
    expect(sampleValue(fam, "charon_commands_total", { command: "NOOP", status: "OK" })).toBe(1);
    expect(sampleValue(fam, "charon_commands_total", { command: "UNKNOWN", status: "BAD" })).toBe(2);
    expect(sampleValue(fam, "charon_commands_total", { command: "UID FETCH", status: "OK" })).toBe(1);
    expect(sampleValue(fam, "charon_commands_total", { command: "FETCH", status: "BAD" })).toBe(1);
    expect(sampleValue(fam, "charon_commands_total", { command: "LOGIN", status: "NO" })).toBe(1);
    expect(sampleValue(fam, "charon_commands_total", { command: "LOGIN", status: "BAD" })).toBe(1);
    // no label value from the client's command text leaks in
    expect(text).not.toContain("FROBNICATE");
    expect(text).not.toContain("XYZZY");

    expect(sampleValue(fam, "charon_auth_failures_total", { reason: "authenticationfailed" })).toBe(1);
    expect(sampleValue(fam, "charon_auth_failures_total", { reason: "bad" })).toBe(1);
    expect(sampleValue(fam, "charon_command_duration_seconds_count", { command: "SELECT" })).toBe(3);
    expect(sampleValue(fam, "charon_command_duration_seconds_bucket", { command: "SELECT", le: "+Inf" })).toBe(3);
    expect(sampleValue(fam, "charon_sessions_active")).toBe(2);
    expect(sampleValue(fam, "charon_connections_total")).toBe(2);
    // the harness store is a real LevelDB directory with files in it
    expect(sampleValue(fam, "charon_leveldb_size_bytes")).toBeGreaterThan(0);
    expect(sampleValue(fam, "charon_event_loop_lag_seconds")).toBeGreaterThanOrEqual(0);

    // LOGOUT, then the connection goes: closed once, even if the owner calls onClose twice
    expect(await c.cmd("z LOGOUT")).toContain("z OK");
    c.session.onClose();
    c.session.onClose();
    bad.session.onClose();
    const after = parsePrometheusText(await m.text());
    expect(sampleValue(after, "charon_sessions_active")).toBe(0);
    expect(sampleValue(after, "charon_commands_total", { command: "LOGOUT", status: "OK" })).toBe(1);
  });

  it("keeps nodes in one process apart (no global registry)", async () => {
    const a = metrics("a", "worker");
    const b = metrics("b", "storage");
    a.sessionObserver().commandDone("NOOP", "OK", 0.001);
    a.countRelayed("in", 100);
    a.countRelayed("out", 7);
    a.tlsHandshakeFailed();
    const fa = parsePrometheusText(await a.text());
    const fb = parsePrometheusText(await b.text());
    expect(sampleValue(fa, "charon_commands_total", { command: "NOOP", node: "a" })).toBe(1);
    expect(Number.isNaN(sampleValue(fb, "charon_commands_total", { command: "NOOP" }))).toBe(true);
    expect(sampleValue(fa, "charon_relayed_bytes_total", { direction: "in" })).toBe(100);
    expect(sampleValue(fa, "charon_relayed_bytes_total", { direction: "out" })).toBe(7);
    expect(sampleValue(fb, "charon_relayed_bytes_total", { direction: "in", role: "storage" })).toBe(0);
    expect(sampleValue(fa, "charon_tls_handshake_failures_total")).toBe(1);
    expect(sampleValue(fb, "charon_tls_handshake_failures_total")).toBe(0);
  });

  it("a broken observer never breaks the session", async () => {
    h = await harness();
    const throwing = {
      sessionOpened() {
        throw new Error("boom");
      },
      sessionClosed() {
        throw new Error("boom");
      },
      commandDone() {
        throw new Error("boom");
      },
      authFailed() {
        throw new Error("boom");
      },
    };
    const c = h.open({ observer: throwing });
    c.take();
    expect(await c.cmd("a LOGIN alice nope")).toContain("a NO");
    expect(await c.cmd("b LOGIN alice secret")).toContain("b OK");
    expect(await c.cmd("c NOOP")).toContain("c OK");
  });

  it("sums a watched directory recursively and reports a missing one as 0", async () => {
    const { mkdtemp, writeFile, mkdir, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "charon-metrics-"));
    try {
      await writeFile(join(dir, "a.ldb"), Buffer.alloc(1000));
      await mkdir(join(dir, "sub"));
      await writeFile(join(dir, "sub", "b"), Buffer.alloc(234));
      const m = metrics();
      m.watchDirectorySize(dir);
      m.watchDirectorySize(join(dir, "does-not-exist"));
      expect(sampleValue(parsePrometheusText(await m.text()), "charon_leveldb_size_bytes")).toBe(1234);
      await writeFile(join(dir, "c.log"), Buffer.alloc(66));
      expect(sampleValue(parsePrometheusText(await m.text()), "charon_leveldb_size_bytes")).toBe(1300);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("parsePrometheusText", () => {
  it("rejects text that is not exposition format", () => {
    expect(() => parsePrometheusText("# TYPE x counter\nx 1\n")).not.toThrow();
    expect(() => parsePrometheusText("x 1\n")).toThrow(/no HELP\/TYPE/);
    expect(() => parsePrometheusText("# TYPE x counter\nx one\n")).toThrow(/bad sample value/);
    expect(() => parsePrometheusText('# TYPE x counter\nx{a="1} 1\n')).toThrow();
    expect(() => parsePrometheusText("# TYPE x countr\n")).toThrow(/unknown type/);
  });
});
