// Scenario 3: idle sessions. Opens N IMAPS sessions (TLS, LOGIN, SELECT INBOX)
// and holds them; reports the resident memory they add: charon's distributor
// process, and the sum of all Dovecot processes (VmRSS, and PSS, which
// divides shared pages among the processes that share them).
import { execSync } from "node:child_process";
import { ImapConnection } from "../client/connection";
import { CpuMeter } from "../client/stats";
import { makeUsers, ServerUnderTest } from "../servers/server";
import { pssBytes, rssBytes, sleep } from "../servers/proc";
import { BenchOptions, Figure, figure, login, ScenarioResult, ServerFactory, ServerName } from "./common";

interface IdleRun {
  requested: number;
  opened: number;
  failed: number;
  openMs: number;
  memoryOf: string;
  processes: number;
  rssBefore: number;
  rssAfter: number;
  pssBefore: number;
  pssAfter: number;
  rssPerSessionKB: number;
  pssPerSessionKB: number;
  failures: string[];
}

/** The soft limit on open files of this process (the servers inherit it). */
export function openFileLimit(): number {
  try {
    return Number(execSync("sh -c 'ulimit -n'", { encoding: "utf8" }).trim()) || 1024;
  } catch {
    return 1024;
  }
}

function memory(server: ServerUnderTest): { rss: number; pss: number; n: number; what: string } {
  const { pids, what } = server.memoryProcesses();
  let rss = 0;
  let pss = 0;
  for (const p of pids) {
    rss += rssBytes(p);
    pss += pssBytes(p);
  }
  return { rss, pss, n: pids.length, what };
}

export async function idleScenario(opts: BenchOptions, start: ServerFactory, servers: ServerName[]): Promise<ScenarioResult> {
  const t0 = Date.now();
  const notes: string[] = [];
  const wanted = opts.idleSessions ?? (opts.quick ? 300 : 5000);
  const limit = openFileLimit();
  // This process holds one socket per session; the servers inherit the same
  // limit and hold at least one (charon's distributor, Dovecot's login processes).
  const fit = Math.floor((limit - 300) / 2);
  const sessions = Math.min(wanted, fit);
  if (sessions < wanted) notes.push(`ulimit -n is ${limit}: scaled down from ${wanted} to ${sessions} sessions; raise it (ulimit -n ${wanted * 2 + 300}) for the issue's figure`);
  const users = makeUsers(opts.users ?? 100);
  const raw: Record<string, IdleRun> = {};
  for (const name of servers) {
    if (name === "pluto") continue;
    const server = await start(name, users, sessions + 50);
    const conns: ImapConnection[] = [];
    const failures: string[] = [];
    let failed = 0;
    try {
      // Warm up: one full session so that lazily loaded code is in both baselines.
      const w = await login(server, users[0]);
      await w.command("SELECT INBOX");
      await w.command("LOGOUT");
      w.close();
      await sleep(1000);
      const before = memory(server);
      const meter = new CpuMeter();
      const openT0 = Date.now();
      const deadline = openT0 + (opts.quick ? 90_000 : 600_000);
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < sessions && Date.now() < deadline) {
            const i = next++;
            try {
              const c = await login(server, users[i % users.length]);
              const r = await c.command("SELECT INBOX");
              if (r.status !== "OK") throw new Error(r.text);
              conns.push(c);
            } catch (e) {
              failed++;
              if (failures.length < 5) failures.push((e as Error).message);
            }
          }
        }),
      );
      const openMs = Date.now() - openT0;
      await sleep(2000);
      const alive = conns.filter((c) => !c.isClosed).length;
      const after = memory(server);
      const gen = meter.stop();
      const per = (a: number, b: number) => (alive > 0 ? (a - b) / alive / 1024 : NaN);
      raw[name] = {
        requested: sessions,
        opened: alive,
        failed,
        openMs,
        memoryOf: after.what,
        processes: after.n,
        rssBefore: before.rss,
        rssAfter: after.rss,
        pssBefore: before.pss,
        pssAfter: after.pss,
        rssPerSessionKB: per(after.rss, before.rss),
        pssPerSessionKB: per(after.pss, before.pss),
        failures,
      };
      opts.log(`  ${name}: ${alive}/${sessions} sessions open in ${openMs} ms (generator ${gen.cores.toFixed(2)} cores); ${after.what}: RSS ${(before.rss / 2 ** 20).toFixed(1)} -> ${(after.rss / 2 ** 20).toFixed(1)} MiB over ${after.n} processes`);
      if (failed) notes.push(`${name}: ${failed} sessions failed to open, e.g. ${failures.slice(0, 2).join(" | ")}`);
    } finally {
      for (const c of conns) c.close();
      await server.stop();
    }
  }
  const vals = (f: (r: IdleRun) => number) => {
    const v: Partial<Record<ServerName, number>> = {};
    for (const n of Object.keys(raw) as ServerName[]) v[n] = f(raw[n]);
    return v;
  };
  const group = `${sessions} sessions`;
  const figures: Figure[] = [];
  const rss = figure({ group, metric: "RSS per session", unit: "KB", better: "lower", values: vals((r) => r.rssPerSessionKB) });
  if (raw.charon) rss.target = { text: "charon distributor <= 30 KB per session", met: sessions >= 5000 ? raw.charon.rssPerSessionKB <= 30 : null };
  figures.push(rss);
  figures.push(figure({ group, metric: "PSS per session", unit: "KB", better: "lower", values: vals((r) => r.pssPerSessionKB) }));
  figures.push(figure({ group, metric: "sessions opened", unit: "sessions", better: "higher", values: vals((r) => r.opened) }));
  figures.push(figure({ group, metric: "open rate", unit: "sessions/s", better: "higher", values: vals((r) => (r.opened / r.openMs) * 1000) }));
  if (sessions < 5000 && raw.charon) notes.push(`target judged at 5,000 sessions only; at ${sessions} the charon distributor used ${raw.charon.rssPerSessionKB.toFixed(1)} KB per session`);
  notes.push("charon: the distributor process only (the workers hold the mailbox state); Dovecot: the sum over all its processes (master, login, auth, one imap per session)");
  return { id: "idle", title: "Idle IMAPS sessions: resident memory per session", params: { sessions, openFileLimit: limit }, figures, notes, raw, durationMs: Date.now() - t0 };
}
