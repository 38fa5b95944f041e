// Issue 5, acceptance 1 and 2, on the real cluster (`charon dev`, one process
// per node): every node's metrics scraped with curl exist and move while
// imapflow runs a session; SIGTERM to a worker in the middle of an APPEND
// stream says BYE, exits 0 and loses nothing acknowledged; nodes come back
// after kill -9.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVERY_NODE_FAMILIES, MAIL_NODE_FAMILIES } from "../src/metrics/families";
import { REPLICATION_FAMILIES } from "../src/metrics/replication";
import { parsePrometheusText, sampleValue, type MetricFamily } from "../src/metrics/parse";
import { clusterNodes, isAlive, routeOf, type ClusterNode } from "./support/cluster";
import { closeQuietly, connected } from "./support/imapflow-client";
import { simpleMessage } from "./support/messages";
import { RawImapClient } from "./support/raw-client";
import { removeDir, startServer, type RunningServer } from "./support/server";

const run = promisify(execFile);
const USERS = [
  ["ann", "pw-ann-1"],
  ["ben", "pw-ben-1"],
] as const;

async function curlMetrics(node: ClusterNode): Promise<Map<string, MetricFamily>> {
  const { stdout } = await run("curl", ["-sSf", "--max-time", "5", `${node.admin}/metrics`]);
  return parsePrometheusText(stdout);
}

/** Starts a node again with the command `charon dev` printed, and waits for its ready line. */
async function restart(node: ClusterNode): Promise<{ child: ChildProcess; ready: string }> {
  const argv = node.restart.split(" ");
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "ignore"] });
  const ready = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith(`ready ${node.role}`));
      if (line) resolve(line);
    });
    child.once("exit", (code) => reject(new Error(`${node.name} exited with ${code} on restart`)));
  });
  return { child, ready };
}

async function stopChild(child: ChildProcess | undefined): Promise<number | null> {
  if (!child || child.exitCode !== null) return child?.exitCode ?? null;
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  return exited;
}

/** The exit of a child as `charon dev` logged it. */
function loggedExit(srv: RunningServer, name: string): { code: number | null; signal: string | null } | undefined {
  for (const line of srv.stderr().split("\n")) {
    if (!line.startsWith("{")) continue;
    const rec = JSON.parse(line) as { child?: string; code?: number | null; signal?: string | null; msg?: string };
    if (rec.child === name && rec.msg?.startsWith("node exited")) return { code: rec.code ?? null, signal: rec.signal ?? null };
  }
  return undefined;
}

describe("lifecycle and metrics of the cluster's processes", () => {
  let srv: RunningServer;
  let nodes: ClusterNode[];
  const restarted: ChildProcess[] = [];

  beforeAll(async () => {
    srv = await startServer({ users: USERS, extraArgs: ["--log-level", "warn"], readyTimeoutMs: 40_000 });
    nodes = clusterNodes(srv);
  }, 60_000);
  afterAll(async () => {
    for (const c of restarted) await stopChild(c);
    await srv?.stop();
    removeDir(srv?.dataDir);
  });

  it("every node's metric families exist on its admin port and move while imapflow runs a session", async () => {
    const dist = nodes.find((n) => n.role === "distributor")!;
    const user = "ann";
    const homeName = (await routeOf(srv, user)).home;
    const home = nodes.find((n) => n.name === homeName)!;

    for (const n of nodes) {
      const m = await curlMetrics(n);
      for (const f of EVERY_NODE_FAMILIES) expect(m.has(f), `${n.name} ${f}`).toBe(true);
      if (n.role !== "distributor") for (const f of [...MAIL_NODE_FAMILIES, ...REPLICATION_FAMILIES]) expect(m.has(f), `${n.name} ${f}`).toBe(true);
    }
    const before = { dist: await curlMetrics(dist), home: await curlMetrics(home) };

    // A failed login, a bad TLS handshake, then a real session that stays open while we scrape.
    const bad = await RawImapClient.connectTls(srv.imapsPort);
    await bad.greeting();
    expect((await bad.command("a", `LOGIN ${user} wrong-password`, 10_000)).status).toBe("NO");
    bad.destroy();
    await run("curl", ["-s", "--max-time", "5", "--cacert", "/dev/null", `imaps://127.0.0.1:${srv.imapsPort}/`]).catch(() => undefined);
    const c = await connected(srv, user, USERS.find(([u]) => u === user)![1]);
    try {
      await c.mailboxOpen("INBOX");
      await c.append("INBOX", simpleMessage({ subject: "metrics", body: "x".repeat(5000) }));
      const during = { dist: await curlMetrics(dist), home: await curlMetrics(home) };
      expect(sampleValue(during.home, "charon_sessions_active")).toBe(sampleValue(before.home, "charon_sessions_active") + 1);
      expect(sampleValue(during.dist, "charon_sessions_active")).toBeGreaterThan(sampleValue(before.dist, "charon_sessions_active"));
      const moved = (name: string, m: Record<string, string>, where: "dist" | "home") =>
        (sampleValue(during[where], name, m) || 0) - (sampleValue(before[where], name, m) || 0);
      expect(moved("charon_commands_total", { command: "SELECT", status: "OK" }, "home")).toBe(1);
      expect(moved("charon_commands_total", { command: "APPEND", status: "OK" }, "home")).toBe(1);
      expect(moved("charon_command_duration_seconds_count", { command: "APPEND" }, "home")).toBe(1);
      expect(moved("charon_commands_total", { command: "LOGIN", status: "NO" }, "dist")).toBe(1);
      expect(moved("charon_auth_failures_total", {}, "dist")).toBe(1);
      expect(moved("charon_tls_handshake_failures_total", {}, "dist")).toBeGreaterThanOrEqual(1);
      expect(moved("charon_relayed_bytes_total", { direction: "in" }, "dist")).toBeGreaterThan(5000);
      expect(moved("charon_relayed_bytes_total", { direction: "out" }, "dist")).toBeGreaterThan(0);
      expect(sampleValue(during.home, "charon_leveldb_size_bytes")).toBeGreaterThan(0);
      // The APPEND went on to the storage node: the home worker shipped it.
      expect(moved("charon_replication_ops_sent_total", {}, "home")).toBeGreaterThan(0);
      expect(moved("charon_replication_bytes_shipped_total", {}, "home")).toBeGreaterThan(5000);
    } finally {
      await closeQuietly(c);
    }
    // The distributor dropped the relayed session at the handoff; its close must still reach the gauge.
    let active = NaN;
    for (let i = 0; i < 200 && active !== sampleValue(before.dist, "charon_sessions_active"); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 25));
      active = sampleValue(await curlMetrics(dist), "charon_sessions_active");
    }
    expect(active).toBe(sampleValue(before.dist, "charon_sessions_active"));
  });

  it("SIGTERM to the home worker during an APPEND stream: BYE, exit 0, and every acknowledged message is there after it restarts", async () => {
    const user = "ben";
    const password = USERS[1][1];
    const homeName = (await routeOf(srv, user)).home;
    const worker = nodes.find((n) => n.name === homeName)!;

    const c = await RawImapClient.connectTls(srv.imapsPort);
    await c.greeting();
    expect((await c.command("a", `LOGIN ${user} ${password}`)).status).toBe("OK");
    expect((await c.command("b", "SELECT INBOX")).status).toBe("OK");
    const acked: number[] = [];
    let i = 0;
    let signalled = false;
    for (; i < 2_000; i++) {
      const msg = simpleMessage({ subject: `stream ${i}`, body: `message ${i} `.repeat(200) });
      c.write(`t${i} APPEND INBOX {${Buffer.byteLength(msg)}+}\r\n${msg}\r\n`);
      let r;
      try {
        r = await c.readUntilTagged(`t${i}`, 10_000);
      } catch {
        break; // closed by the server
      }
      const uid = /APPENDUID \d+ (\d+)/.exec(r.tagged);
      if (r.status === "OK" && uid) acked.push(Number(uid[1]));
      if (r.status !== "OK") break;
      if (i === 20 && !signalled) {
        process.kill(worker.pid, "SIGTERM");
        signalled = true;
      }
    }
    expect(await c.waitClosed(5_000)).toBe(true);
    expect(signalled).toBe(true);
    expect(acked.length).toBeGreaterThanOrEqual(21);
    // The transcript has every response, also those that a read cut short by the close never returned.
    expect(c.transcript.filter((l) => l.startsWith("S: ")).join("\n")).toMatch(/^S: \* BYE /m);
    expect(c.closed).toBe(true);
    for (let t = 0; t < 100 && isAlive(worker.pid); t++) await new Promise((r) => setTimeout(r, 100));
    expect(isAlive(worker.pid)).toBe(false);
    for (let t = 0; t < 50 && !loggedExit(srv, worker.name); t++) await new Promise((r) => setTimeout(r, 100));
    expect(loggedExit(srv, worker.name)).toEqual({ code: 0, signal: null });

    restarted.push((await restart(worker)).child);
    // Once the distributor has its link back, ben's sessions are home again and see every acknowledged UID.
    let uids: number[] = [];
    for (let t = 0; t < 40; t++) {
      const r = await connected(srv, user, password);
      try {
        await r.mailboxOpen("INBOX");
        uids = [];
        for await (const m of r.fetch("1:*", { uid: true })) uids.push(m.uid);
      } catch {
        uids = [];
      } finally {
        await closeQuietly(r);
      }
      if (acked.every((u) => uids.includes(u))) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    expect(acked.filter((u) => !uids.includes(u))).toEqual([]);
  });

  it("the distributor starts again after kill -9, on the same ports", async () => {
    const dist = nodes.find((n) => n.role === "distributor")!;
    process.kill(dist.pid, "SIGKILL");
    for (let t = 0; t < 50 && isAlive(dist.pid); t++) await new Promise((r) => setTimeout(r, 100));
    const again = await restart(dist);
    restarted.push(again.child);
    // The dev configuration lets the distributor pick its client ports; it prints the new ones.
    const imaps = Number(/ imaps=\S+:(\d+)/.exec(again.ready)![1]);
    const c = await connected({ ...srv, imapsPort: imaps }, "ann", USERS[0][1]);
    try {
      expect((await c.mailboxOpen("INBOX")).path).toBe("INBOX");
    } finally {
      await closeQuietly(c);
    }
  });
});
