// Issue 4: a selected session sees changes that reach its node from another
// replica through EXISTS, FETCH (FLAGS) and EXPUNGE, pushed while it IDLEs.
// Real processes on loopback: dist-1 relays the user to its home worker;
// dist-2 cannot reach that worker (its address points at a closed port), so
// it relays the same user to storage, and every write made there reaches the
// worker only by replication.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parsePrometheusText, sampleValue } from "../src/metrics/parse";
import { clusterRouter } from "../src/routing/home-worker-router";
import { closeQuietly, connected, waitForEvent } from "./support/imapflow-client";
import { simpleMessage } from "./support/messages";
import { NodeCluster } from "./support/node-cluster";

const USERS = ["ann", "ben", "cat", "dan"].map((u) => [u, `pw-${u}-7`] as const);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** A loopback port nothing listens on: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("selected sessions and replication (real processes)", () => {
  it("an IDLE session on the home worker sees EXISTS, FETCH FLAGS and EXPUNGE for writes made on storage", async () => {
    const cluster = await NodeCluster.create({ users: USERS, workers: 2, storage: 1, distributors: 2 });
    cleanups.push(() => cluster.stop());
    const [user, password] = USERS[0]!;
    const home = clusterRouter(cluster.config).homeOf(user);
    const nowhere = `127.0.0.1:${await closedPort()}`;
    cluster.setEnv((name) => (name === "dist-2" ? { [`CHARON_NODES__${home}__INTERNAL`]: nowhere } : {}));
    await cluster.startAll();

    const onWorker = await connected(cluster.server("dist-1"), user, password);
    const onStorage = await connected(cluster.server("dist-2"), user, password);
    cleanups.push(() => closeQuietly(onWorker));
    cleanups.push(() => closeQuietly(onStorage));
    const sessionsOn = async (node: string) => sampleValue(parsePrometheusText(await (await fetch(`${cluster.adminUrl(node)}/metrics`)).text()), "charon_sessions_active") || 0;
    // Each session is where the test says: one on the home worker, one on storage.
    expect([await sessionsOn(home), await sessionsOn("storage-1")]).toEqual([1, 1]);
    await onWorker.append("INBOX", simpleMessage({ subject: "first", body: "on the worker" }));
    // The control: the message written on the worker reached storage before we go on.
    let seen = 0;
    for (let i = 0; i < 100 && seen === 0; i++) {
      const st = await onStorage.status("INBOX", { messages: true });
      seen = (st && st.messages) || 0;
      if (seen === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen).toBe(1);

    await onWorker.mailboxOpen("INBOX");
    const idling = onWorker.idle();
    const exists = waitForEvent<{ count: number }>(onWorker, "exists", (e) => e.count === 2);
    await onStorage.mailboxOpen("INBOX");
    const res = await onStorage.append("INBOX", simpleMessage({ subject: "second", body: "on storage" }));
    const appended = { uid: res ? res.uid : undefined };
    expect(appended.uid).toBe(2);
    expect((await exists).count).toBe(2);

    const flagged = waitForEvent<{ uid?: number; seq: number; flags: Set<string> }>(onWorker, "flags", (e) => e.flags.has("\\Flagged"));
    await onStorage.messageFlagsAdd({ uid: String(appended.uid) }, ["\\Flagged"], { uid: true });
    expect((await flagged).seq).toBe(2);

    const expunged = waitForEvent<{ seq: number }>(onWorker, "expunge", () => true);
    await onStorage.messageDelete({ uid: "1" }, { uid: true });
    expect((await expunged).seq).toBe(1);

    // Out of IDLE, the session's view is the replicated one: one message, the flagged one from storage.
    await onWorker.noop();
    await idling.catch(() => undefined);
    const left = [];
    for await (const m of onWorker.fetch("1:*", { uid: true, flags: true, envelope: true })) left.push([m.uid, m.envelope?.subject, [...(m.flags ?? [])]]);
    expect(left).toEqual([[appended.uid, "second", expect.arrayContaining(["\\Flagged"])]]);
    expect((left[0]![2] as string[]).filter((f) => f !== "\\Recent")).toEqual(["\\Flagged"]);
  }, 60_000);
});
