// Scenario 1: mixed client workload in the spirit of imaptest. Each client
// loops over sessions until the time is up: LOGIN, SELECT INBOX, then a
// pipelined burst of FETCH FLAGS / FETCH ENVELOPE / FETCH BODY.PEEK[] /
// APPEND, then a pipelined STORE \Seen, STORE \Deleted, EXPUNGE, and LOGOUT.
// Each APPEND is matched by one EXPUNGE so that the mailboxes keep their size.
import { mulberry32 } from "../../src/util/mulberry32";
import { CpuMeter, cpuPerSessionUs, LatencySummary, Recorder, randInt, SessionPacer, summarize } from "../client/stats";
import { CommandResult, ImapConnection } from "../client/connection";
import { MessagePool } from "../client/messages";
import { makeUsers, ServerUnderTest } from "../servers/server";
import { BenchOptions, cpuSecondsOf, Figure, figure, ScenarioResult, seedMailbox, ServerFactory, ServerName, sessionLoop, waitUntilIdle } from "./common";

const COMMANDS = ["LOGIN", "SELECT", "FETCH FLAGS", "FETCH ENVELOPE", "FETCH BODY", "APPEND", "STORE", "EXPUNGE", "LOGOUT"];

interface LevelResult {
  clients: number;
  wallS: number;
  commandsPerS: number;
  sessions: number;
  perCommand: ReturnType<Recorder["summary"]>;
  /** TCP connect to greeting, TLS included. */
  connect: LatencySummary;
  errors: string[];
  generatorCores: number;
  serverCores: number;
  allP99: number;
}

const POOL = new MessagePool(11, 256, 1024, 10 * 1024);

function clientLoop(server: ServerUnderTest, userIdx: number, deadline: number, rec: Recorder, seed: number, pace?: SessionPacer): Promise<number> {
  const r = mulberry32(seed);
  const user = server.users[userIdx % server.users.length];
  // Only SELECT's untagged responses are read; the others are counted, not kept.
  const counted = { countOnly: true };
  const note = (name: string) => (res: CommandResult) => {
    rec.record(name, res.latencyMs, res.status === "OK", res.text);
    return res;
  };
  const session = async (c: ImapConnection) => {
    const sel = note("SELECT")(await c.command("SELECT INBOX"));
    let exists = 0;
    for (const u of sel.untagged) {
      const m = /^\* (\d+) EXISTS/i.exec(u.text);
      if (m) exists = Number(m[1]);
    }
    const burst: Promise<unknown>[] = [];
    if (exists > 0) {
      const a = randInt(r, 1, exists);
      const b = Math.min(exists, a + 9);
      burst.push(c.command("FETCH 1:* (FLAGS)", counted).then(note("FETCH FLAGS")));
      burst.push(c.command(`FETCH ${a}:${b} (ENVELOPE)`, counted).then(note("FETCH ENVELOPE")));
      burst.push(c.command(`FETCH ${randInt(r, 1, exists)} (BODY.PEEK[])`, counted).then(note("FETCH BODY")));
    }
    burst.push(c.command(["APPEND INBOX ", POOL.pick(randInt(r, 0, POOL.size - 1))], counted).then(note("APPEND")));
    await Promise.all(burst);
    const now = exists + 1;
    const second = [
      c.command(`STORE ${randInt(r, 1, now)} +FLAGS (\\Seen)`, counted).then(note("STORE")),
      c.command(`STORE ${randInt(r, 1, now)} +FLAGS (\\Deleted)`, counted).then(note("STORE")),
      c.command("EXPUNGE", counted).then(note("EXPUNGE")),
    ];
    await Promise.all(second);
    note("LOGOUT")(await c.command("LOGOUT", counted));
  };
  return sessionLoop(server, deadline, rec, () => user, session, pace);
}

async function runLevel(server: ServerUnderTest, clients: number, durationS: number, pace?: SessionPacer): Promise<LevelResult> {
  const rec = new Recorder();
  const pids = server.allPids();
  const cpu0 = cpuSecondsOf(pids);
  const meter = new CpuMeter();
  const t0 = Date.now();
  const deadline = t0 + durationS * 1000;
  const counts = await Promise.all(Array.from({ length: clients }, (_, i) => clientLoop(server, i, deadline, rec, 1000 + i, pace)));
  const wallS = (Date.now() - t0) / 1000;
  const gen = meter.stop();
  const serverCores = (cpuSecondsOf(pids) - cpu0) / wallS;
  const all = [...rec.samples.values()].flat().sort((a, b) => a - b);
  return {
    clients,
    wallS,
    commandsPerS: rec.totalCount() / wallS,
    sessions: counts.reduce((a, b) => a + b, 0),
    perCommand: rec.summary(),
    connect: summarize(rec.connects),
    errors: rec.errorExamples,
    generatorCores: gen.cores,
    serverCores,
    allP99: all.length ? all[Math.max(0, Math.ceil(0.99 * all.length) - 1)] : NaN,
  };
}

export async function mixedScenario(opts: BenchOptions, start: ServerFactory, servers: ServerName[]): Promise<ScenarioResult> {
  const t0 = Date.now();
  const levels = opts.clients ?? [1, 10, 50];
  const durationS = opts.durationS ?? (opts.quick ? 3 : 20);
  const seedCount = opts.quick ? 20 : 100;
  const warmS = opts.quick ? 1 : 3;
  const userCount = opts.users ?? Math.max(...levels);
  const users = makeUsers(userCount);
  const raw: Record<string, LevelResult[]> = {};
  const notes: string[] = [];
  const measured = servers.filter((n) => n !== "pluto"); // pluto supports no FETCH
  /** Starts `name` with every user's INBOX seeded, runs fn, and stops it. */
  const withSeededServer = async (name: ServerName, fn: (server: ServerUnderTest) => Promise<void>) => {
    const server = await start(name, users, Math.max(...levels) + 50);
    try {
      const seedT0 = Date.now();
      await Promise.all(users.map((u, i) => seedMailbox(server, u, seedCount, { size: (k) => 1024 + ((k * 7919 + i) % 9) * 1024, seed: i * 10_000 })));
      opts.log(`  ${name}: seeded ${users.length} users x ${seedCount} messages in ${Date.now() - seedT0} ms`);
      // Both servers keep working on a bulk load for a while (charon replicates it): start at rest.
      const rest = await waitUntilIdle(server);
      opts.log(`  ${name}: ${rest.settled ? "at rest" : "still busy"} after ${rest.ms} ms`);
      await fn(server);
    } finally {
      await server.stop();
    }
  };
  // Warm-up at the same concurrency and pace, not recorded: caches, pre-forked processes, JIT.
  const measure = async (name: ServerName, server: ServerUnderTest, clients: number, pace?: SessionPacer) => {
    await runLevel(server, clients, warmS, pace);
    const lr = await runLevel(server, clients, durationS, pace);
    const how = pace ? `${clients} clients at ${pace.perSecond.toFixed(0)} sessions/s` : `${clients} clients`;
    opts.log(`  ${name}: ${how}: ${lr.commandsPerS.toFixed(0)} commands/s, ${lr.sessions} sessions, generator ${lr.generatorCores.toFixed(2)} cores, server ${lr.serverCores.toFixed(2)} cores`);
    if (lr.errors.length) notes.push(`${name} at ${how}: failures, e.g. ${lr.errors.slice(0, 3).join(" | ")}`);
    return lr;
  };
  for (const name of measured) {
    await withSeededServer(name, async (server) => {
      raw[name] = [];
      for (const clients of levels) raw[name].push(await measure(name, server, clients));
    });
  }

  // Closed-loop clients run each server as fast as it answers, so a faster
  // server is measured under more load: its p99 is a tail at higher
  // throughput. The equal-load pass offers every server the same session
  // rate (90% of the slowest one's closed-loop rate at that level, so each
  // keeps up) and reports latency at the same throughput. It is shown beside
  // the closed-loop verdicts, not instead of them.
  const eqLevel = levels.includes(10) ? levels.indexOf(10) : levels.length >> 1;
  const eqClients = levels[eqLevel]!;
  const equal: Record<string, LevelResult> = {};
  let eqRate = 0;
  if (measured.length > 1) {
    eqRate = 0.9 * Math.min(...measured.map((n) => raw[n]![eqLevel]!.sessions / raw[n]![eqLevel]!.wallS));
    for (const name of measured) {
      await withSeededServer(name, async (server) => {
        equal[name] = await measure(name, server, eqClients, new SessionPacer(eqRate));
      });
    }
  }

  const figures: Figure[] = [];
  const levelFigures = (group: string, at: (n: ServerName) => LevelResult | undefined, judged: boolean) => {
    const vals = (f: (l: LevelResult) => number) => {
      const v: Partial<Record<ServerName, number>> = {};
      for (const n of measured) {
        const l = at(n);
        if (l) v[n] = f(l);
      }
      return v;
    };
    const tput = figure({ group, metric: "all commands/s", unit: "ops/s", better: "higher", values: vals((l) => l.commandsPerS) });
    if (judged && tput.ratio !== undefined) tput.target = { text: ">= 1.0x Dovecot", met: tput.ratio >= 1 };
    figures.push(tput);
    figures.push(figure({ group, metric: "logins/s", unit: "ops/s", better: "higher", values: vals((l) => (l.perCommand.LOGIN?.count ?? 0) / l.wallS) }));
    // Not a command, so not judged; but a client waits for it before its LOGIN, every session.
    for (const q of ["p50", "p99"] as const) {
      figures.push(figure({ group, metric: `connect (TCP, TLS, greeting) ${q}`, unit: "ms", better: "lower", values: vals((l) => l.connect[q]) }));
    }
    for (const cmd of COMMANDS) {
      figures.push(figure({ group, metric: `${cmd} ops/s`, unit: "ops/s", better: "higher", values: vals((l) => (l.perCommand[cmd]?.count ?? 0) / l.wallS) }));
      figures.push(figure({ group, metric: `${cmd} p50`, unit: "ms", better: "lower", values: vals((l) => l.perCommand[cmd]?.p50 ?? NaN) }));
      const p99 = figure({ group, metric: `${cmd} p99`, unit: "ms", better: "lower", values: vals((l) => l.perCommand[cmd]?.p99 ?? NaN) });
      if (judged && p99.ratio !== undefined) p99.target = { text: "p99 <= Dovecot's", met: p99.ratio <= 1 };
      figures.push(p99);
    }
    const gen = figure({ group, metric: "generator CPU", unit: "cores", better: "lower", values: vals((l) => l.generatorCores) });
    const worst = Math.max(...Object.values(gen.values).map((v) => v ?? 0));
    gen.target = { text: "load generator well below one core (< 0.5)", met: worst < 0.5 };
    figures.push(gen);
    // The generator's cost follows the sessions it runs, so a faster server
    // costs it more cores: per session, the servers' figures show the same client.
    figures.push(
      figure({ group, metric: "generator CPU per session", unit: "us", better: "lower", values: vals((l) => cpuPerSessionUs(l.generatorCores, l.wallS, l.sessions)) }),
    );
    figures.push(figure({ group, metric: "server CPU", unit: "cores", better: "lower", values: vals((l) => l.serverCores) }));
  };
  levels.forEach((clients, li) => levelFigures(`${clients} client${clients === 1 ? "" : "s"}`, (n) => raw[n]?.[li], clients === 10 || clients === 50));
  if (eqRate > 0) {
    levelFigures(`${eqClients} clients, equal load`, (n) => equal[n], false);
    notes.push(
      `equal load: ${eqClients} clients together start at most ${eqRate.toFixed(0)} sessions/s on every server (90% of the slowest server's closed-loop rate), ` +
        "so latencies compare at the same throughput; informational, the verdicts are the closed-loop ones",
    );
  }
  if (opts.quick) notes.push(`quick run: ${durationS} s per level, ${seedCount} messages per mailbox; the issue's figures need the full run`);
  return {
    id: "mixed",
    title: "Mixed client workload (imaptest-like, TLS, pipelined)",
    params: { levels, durationS, warmupS: warmS, users: userCount, seedMessagesPerUser: seedCount, equalLoad: eqRate > 0 ? { clients: eqClients, sessionsPerS: eqRate } : null },
    figures,
    notes,
    raw: { ...raw, equalLoad: equal },
    durationMs: Date.now() - t0,
  };
}
