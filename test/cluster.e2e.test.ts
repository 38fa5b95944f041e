// The cluster as separate processes (issue 3): `charon dev` starts a
// distributor, two workers and a storage node; the tests check routing against
// what each node says it holds, the mutual-TLS refusals on every internal
// port, STARTTLS through the distributor, and failover after kill -9.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadClusterConfig, nodesWithRole, readNodeTls, type ClusterConfig } from "../src/config/cluster";
import { connectMux } from "../src/link";
import { SCHED_BATCH, SCHED_OTHER, threadPolicy } from "../src/node/scheduling";
import { createCa, issueLeaf, type PemKeyPair } from "../src/tls/certs";
import { internalClientOptions } from "../src/tls/mtls";
import { adminGet, clusterNodes, configFile, heldMail, isAlive, routeOf, type ClusterNode } from "./support/cluster";
import { closeQuietly, connected } from "./support/imapflow-client";
import { simpleMessage } from "./support/messages";
import { RawImapClient } from "./support/raw-client";
import { CLI_ENTRY, removeDir, startServer, type RunningServer } from "./support/server";

const USERS = ["ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal"].map((u) => [u, `pw-${u}-1`] as const);
const passwordOf = (user: string) => USERS.find(([u]) => u === user)![1];

async function appendOne(srv: RunningServer, user: string, subject: string): Promise<number> {
  const c = await connected(srv, user, passwordOf(user));
  try {
    const r = await c.append("INBOX", simpleMessage({ subject, body: `${subject} body` }));
    return (r as { uid?: number }).uid ?? 0;
  } finally {
    await closeQuietly(c);
  }
}

/** Opens a relayed-session stream on a mail node's internal port with the given TLS material; "opened" or why not. */
async function tryOpenSession(host: string, port: number, ca: string, client?: PemKeyPair): Promise<string> {
  const opts = client ? internalClientOptions(client, ca) : { ca, rejectUnauthorized: true, minVersion: "TLSv1.3" as const, checkServerIdentity: () => undefined };
  try {
    const mux = await connectMux({ ...opts, host, port }, { connectTimeoutMs: 5_000 });
    try {
      const stream = await Promise.race([
        mux.openStream({ kind: "session", user: "ann" }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no answer to the stream open")), 5_000)),
      ]);
      stream.destroy();
      return "opened";
    } finally {
      mux.close();
    }
  } catch (err) {
    return `refused: ${(err as Error).message}`;
  }
}

describe("cluster: routing, internal mutual TLS, STARTTLS", () => {
  let srv: RunningServer;
  let nodes: ClusterNode[];
  let config: ClusterConfig;

  beforeAll(async () => {
    srv = await startServer({ users: USERS, extraArgs: ["--log-level", "warn"], readyTimeoutMs: 40_000 });
    nodes = clusterNodes(srv);
    config = await loadClusterConfig(configFile(srv));
  }, 60_000);
  afterAll(async () => {
    const r = await srv?.stop();
    // Every node process is gone with its supervisor.
    for (const n of nodes ?? []) expect(isAlive(n.pid), n.name).toBe(false);
    expect(r?.code).toBe(0);
    removeDir(srv?.dataDir);
  });

  it("runs one process per node, each with its own admin port", async () => {
    expect(nodes.map((n) => `${n.name}:${n.role}`)).toEqual(["dist-1:distributor", "worker-1:worker", "worker-2:worker", "storage-1:storage"]);
    expect(new Set(nodes.map((n) => n.pid)).size).toBe(4);
    for (const n of nodes) {
      expect(n.pid).not.toBe(srv.pid);
      expect((await adminGet(n, "/healthz")).status).toBe(200);
      const ready = await adminGet(n, "/readyz");
      expect(ready.status, `${n.name} /readyz: ${ready.body}`).toBe(200);
      expect((await adminGet(n, "/metrics")).body).toMatch(new RegExp(`charon_sessions_active\\{[^}]*node="${n.name}"`));
    }
  });

  it("schedules each node's event loop SCHED_BATCH and leaves its other threads (libuv's pool) normal", () => {
    for (const n of nodes) {
      expect(threadPolicy(n.pid), n.name).toBe(SCHED_BATCH);
      // libuv's 4 pool threads exist before the change and keep the normal policy (threads made later, such as
      // the distributor's scrypt threads, inherit batch).
      const others = readdirSync(`/proc/${n.pid}/task`).map(Number).filter((tid) => tid !== n.pid);
      expect(others.filter((tid) => threadPolicy(n.pid, tid) === SCHED_OTHER).length, n.name).toBeGreaterThanOrEqual(4);
    }
  });

  it("spreads users over the workers as `charon route` says, and each user's mail is on its home worker only", async () => {
    const homes = new Map<string, string>();
    for (const [user] of USERS) {
      const r = await routeOf(srv, user);
      expect(r.fallbacks).toEqual(["storage-1"]);
      homes.set(user, r.home);
      expect(await appendOne(srv, user, `hello ${user}`)).toBeGreaterThan(0);
    }
    // With these eight names, rendezvous hashing gives each worker some users.
    expect(new Set(homes.values())).toEqual(new Set(["worker-1", "worker-2"]));
    const held = new Map<string, Map<string, number>>();
    for (const n of nodes.filter((x) => x.role === "worker")) held.set(n.name, await heldMail(n));
    for (const [user, home] of homes) {
      expect(held.get(home)!.get(user), `${user} on ${home}`).toBe(1);
      const other = home === "worker-1" ? "worker-2" : "worker-1";
      expect(held.get(other)!.has(user), `${user} not on ${other}`).toBe(false);
    }
  });

  it("serves relayed sessions only to distributors with a cluster certificate, on every internal port", async () => {
    const mailNodes = [...nodesWithRole(config, "worker"), ...nodesWithRole(config, "storage")];
    expect(mailNodes).toHaveLength(3);
    const { ca } = await readNodeTls(config, "dist-1");
    const distributor = (await readNodeTls(config, "dist-1")).pair;
    const worker = (await readNodeTls(config, "worker-1")).pair;
    const foreignCa = await createCa({ commonName: "not the cluster CA" });
    const foreign = await issueLeaf(foreignCa, { role: "distributor", name: "dist-1", altNames: ["127.0.0.1"] });
    for (const n of mailNodes) {
      const { host, port } = n.internal!;
      // The positive control: the real distributor certificate gets a session.
      expect(await tryOpenSession(host, port, ca, distributor), n.name).toBe("opened");
      expect(await tryOpenSession(host, port, ca), `${n.name} without a certificate`).toMatch(/^refused/);
      expect(await tryOpenSession(host, port, ca, foreign), `${n.name} with a foreign CA`).toMatch(/^refused/);
      // A worker's certificate is the cluster's, but a worker may not open sessions anywhere.
      expect(await tryOpenSession(host, port, ca, worker), `${n.name} from a worker`).toMatch(/^refused/);
    }
  });

  it("refuses LOGIN before STARTTLS on the plain port and relays the session after it", async () => {
    const c = await RawImapClient.connectPlain(srv.imapPort);
    try {
      expect(await c.greeting()).toMatch(/LOGINDISABLED/);
      const before = await c.command("a", `LOGIN ann ${passwordOf("ann")}`);
      expect(before.status).not.toBe("OK");
      expect((await c.startTls("b")).status).toBe("OK");
      expect((await c.command("c", `LOGIN ann ${passwordOf("ann")}`)).status).toBe("OK");
      const sel = await c.command("d", "SELECT INBOX");
      expect(sel.status).toBe("OK");
      expect(sel.untagged.join("\n")).toMatch(/\* \d+ EXISTS/);
    } finally {
      await c.logout();
      c.destroy();
    }
  });

  it("picks up users added and deleted with `charon user --config` while it runs", async () => {
    const user = (args: string[]) => runCli(["user", ...args, "--config", configFile(srv)]);
    expect((await user(["add", "ivy", "--password", "pw-ivy-1"])).code).toBe(0);
    // The distributor watches the file; the login succeeds once it has reloaded it.
    let status = "NO";
    for (let i = 0; i < 40 && status !== "OK"; i++) {
      status = await rawLogin(srv.imapsPort, "ivy", "pw-ivy-1");
      if (status !== "OK") await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe("OK");
    expect((await user(["del", "ivy"])).code).toBe(0);
    for (let i = 0; i < 40 && status === "OK"; i++) {
      status = await rawLogin(srv.imapsPort, "ivy", "pw-ivy-1");
      if (status === "OK") await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe("NO");
  });
});

async function rawLogin(port: number, user: string, password: string): Promise<string> {
  const c = await RawImapClient.connectTls(port);
  try {
    await c.greeting();
    return (await c.command("a", `LOGIN ${user} ${password}`, 10_000)).status;
  } finally {
    c.destroy();
  }
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_ENTRY, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("cluster: a worker killed with -9", () => {
  let srv: RunningServer;
  let nodes: ClusterNode[];
  let restarted: ChildProcess | undefined;

  beforeAll(async () => {
    srv = await startServer({ users: USERS, extraArgs: ["--log-level", "warn"], readyTimeoutMs: 40_000 });
    nodes = clusterNodes(srv);
  }, 60_000);
  afterAll(async () => {
    if (restarted && restarted.exitCode === null) {
      const gone = new Promise((r) => restarted!.once("exit", r));
      restarted.kill("SIGTERM");
      await gone;
    }
    await srv?.stop();
    removeDir(srv?.dataDir);
  });

  it("sends the open session a BYE, serves the next login from storage within 2 s with the replicated mail, then hands back to the restarted worker once caught up", async () => {
    const user = "ann";
    const { home } = await routeOf(srv, user);
    const victim = nodes.find((n) => n.name === home)!;
    const survivor = nodes.find((n) => n.role === "worker" && n.name !== home)!;
    const storage = nodes.find((n) => n.role === "storage")!;
    const otherUser = (await Promise.all(USERS.map(async ([u]) => [u, (await routeOf(srv, u)).home] as const))).find(([, h]) => h === survivor.name)![0];
    expect(await appendOne(srv, user, "before the kill")).toBe(1);

    const open = await RawImapClient.connectTls(srv.imapsPort);
    await open.greeting();
    expect((await open.command("a", `LOGIN ${user} ${passwordOf(user)}`)).status).toBe("OK");
    expect((await open.command("b", "SELECT INBOX")).untagged.join("\n")).toMatch(/\* 1 EXISTS/);

    process.kill(victim.pid, "SIGKILL");
    const killedAt = Date.now();
    // The session that lived on the worker is told, and closed; it does not hang.
    const untilClosed: string[] = [];
    for (;;) {
      try {
        untilClosed.push(await open.next(5_000));
      } catch {
        break;
      }
    }
    expect(untilClosed.join("\n")).toMatch(/^\* BYE/m);
    expect(open.closed).toBe(true);

    const c = await connected(srv, user, passwordOf(user));
    const servedAfterMs = Date.now() - killedAt;
    try {
      // The message from before the kill was replicated to storage: the client sees it, with its UID.
      const box = await c.mailboxOpen("INBOX");
      expect(box.exists).toBe(1);
      const during = await c.append("INBOX", simpleMessage({ subject: "during the outage", body: "x" }));
      expect((during as { uid?: number }).uid).toBe(2);
    } finally {
      await closeQuietly(c);
    }
    expect(servedAfterMs).toBeLessThan(2_000);
    console.log(`failover: login served by ${storage.name} ${servedAfterMs} ms after kill -9 of ${victim.name}`);
    expect((await heldMail(storage)).get(user)).toBe(2);
    // The other worker's users are not affected.
    expect(await appendOne(srv, otherUser, "unaffected")).toBeGreaterThan(0);
    expect((await heldMail(survivor)).get(otherUser)).toBe(1);

    // Restart the worker with the command charon dev printed; new sessions go home again.
    const argv = victim.restart.split(" ");
    restarted = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "ignore"] });
    await new Promise<void>((resolve, reject) => {
      restarted!.stdout!.on("data", (d: Buffer) => d.toString().includes("ready worker") && resolve());
      restarted!.once("exit", (code) => reject(new Error(`restarted worker exited with ${code}`)));
    });
    // Anti-entropy brings the outage's message to the worker, and new sessions go home again.
    const restartedAt = Date.now();
    let homeCount = 0;
    for (let i = 0; i < 100 && homeCount < 2; i++) {
      homeCount = (await heldMail(victim)).get(user) ?? 0;
      if (homeCount < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(homeCount).toBe(2);
    console.log(`handback: ${victim.name} held the outage's message ${Date.now() - restartedAt} ms after its ready line`);
    for (let i = 0; i < 40 && homeCount < 3; i++) {
      await appendOne(srv, user, `after restart ${i}`);
      homeCount = (await heldMail(victim)).get(user) ?? 0;
      if (homeCount < 3) await new Promise((r) => setTimeout(r, 250));
    }
    expect(homeCount).toBeGreaterThanOrEqual(3);
    // And both replicas converge on the same count.
    let storageCount = 0;
    for (let i = 0; i < 50 && storageCount !== homeCount; i++) {
      storageCount = (await heldMail(storage)).get(user) ?? 0;
      homeCount = (await heldMail(victim)).get(user) ?? 0;
      if (storageCount !== homeCount) await new Promise((r) => setTimeout(r, 100));
    }
    expect(storageCount).toBe(homeCount);
  });
});

describe("cluster: npm start's default user", () => {
  it("prints a demo password that imapflow can log in with", async () => {
    const srv = await startServer({ users: [], extraArgs: ["--workers", "1", "--storage", "0", "--log-level", "warn"] });
    try {
      const m = /^user demo password (\S+)$/m.exec(srv.stdout());
      expect(m).not.toBeNull();
      const c = await connected(srv, "demo", m![1]);
      try {
        expect((await c.list()).map((b) => b.path)).toContain("Sent");
      } finally {
        await closeQuietly(c);
      }
      // Nothing of the password reaches the directory file in clear.
      expect(readFileSync(path.join(srv.dataDir, "users.json"), "utf8")).not.toContain(m![1]);
    } finally {
      await srv.stop();
      removeDir(srv.dataDir);
    }
  });
});
