// Types and helpers shared by the scenarios.
import * as fs from "node:fs";
import { CommandResult, ImapConnection, openSession } from "../client/connection";
import { makeMessage } from "../client/messages";
import { Recorder, SessionPacer } from "../client/stats";
import { BenchUser, ServerUnderTest } from "../servers/server";
import { sleep } from "../servers/proc";

export type ServerName = "charon" | "dovecot" | "pluto";

export interface Target {
  /** What the issue asks, in words. */
  text: string;
  /** true/false when judged in this run, null when it cannot be (for example a scaled-down run). */
  met: boolean | null;
}

/** One number per server: a row of the table and a bar group of the chart. */
export interface Figure {
  group: string;
  metric: string;
  unit: string;
  better: "higher" | "lower";
  values: Partial<Record<ServerName, number>>;
  /** charon/Dovecot from this run. */
  ratio?: number;
  /** charon/pluto from this run, when pluto ran. */
  ratioPluto?: number;
  target?: Target;
}

export interface ScenarioResult {
  id: string;
  title: string;
  params: Record<string, unknown>;
  figures: Figure[];
  notes: string[];
  /** Raw per-server data (latency summaries, CPU, errors) for the JSON file. */
  raw: Record<string, unknown>;
  durationMs: number;
}

export interface BenchOptions {
  quick: boolean;
  clients?: number[];
  users?: number;
  durationS?: number;
  idleSessions?: number;
  largeMessages?: number;
  pluto?: { bin: string; config: string };
  /** Dovecot's imaptest binary, for the imaptest scenario. */
  imaptest?: string;
  /** Extra key=value arguments for imaptest (e.g. checkpoint=2). */
  imaptestArgs?: string[];
  dovecotScheme: string;
  log: (s: string) => void;
}

/** Starts a server with these users, runs fn, and always stops it. */
export type ServerFactory = (name: ServerName, users: BenchUser[], maxSessions: number) => Promise<ServerUnderTest>;

export function ratio(charon: number | undefined, other: number | undefined): number | undefined {
  if (charon === undefined || other === undefined || !Number.isFinite(charon) || !Number.isFinite(other) || other === 0) return undefined;
  return charon / other;
}

export function figure(f: Omit<Figure, "ratio" | "ratioPluto">): Figure {
  return { ...f, ratio: ratio(f.values.charon, f.values.dovecot), ratioPluto: ratio(f.values.charon, f.values.pluto) };
}

/** CPU seconds used so far by a set of processes, their reaped children included (from /proc/PID/stat). */
export function cpuSecondsOf(pids: number[]): number {
  const hz = 100;
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields after ")" start at state (3): utime=14, stime=15, cutime=16, cstime=17 -> indexes 11..14
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      /* gone */
    }
  }
  return ticks / hz;
}

/**
 * Waits until the server's processes, together, use less than `cores` of CPU
 * over `windowMs`, or `maxMs` has passed: what is timed afterwards is the
 * server at rest, not the tail of its own work on what came before (charon's
 * replication and LevelDB compaction after a bulk APPEND, Dovecot's index
 * writes). Returns how long it waited and whether the server settled.
 */
export async function waitUntilIdle(server: ServerUnderTest, o: { maxMs?: number; windowMs?: number; cores?: number } = {}): Promise<{ ms: number; settled: boolean }> {
  const maxMs = o.maxMs ?? 30_000;
  const windowMs = o.windowMs ?? 1000;
  const cores = o.cores ?? 0.05;
  const t0 = Date.now();
  for (;;) {
    const pids = server.allPids();
    const before = cpuSecondsOf(pids);
    await sleep(windowMs);
    const used = (cpuSecondsOf(pids) - before) / (windowMs / 1000);
    if (used < cores) return { ms: Date.now() - t0, settled: true };
    if (Date.now() - t0 >= maxMs) return { ms: Date.now() - t0, settled: false };
  }
}

export function connOpts(server: ServerUnderTest) {
  return { host: server.host, port: server.port, tls: true };
}

export async function login(server: ServerUnderTest, user: BenchUser, rec?: Recorder, extra: { countOnly?: boolean } = {}): Promise<ImapConnection> {
  return openSession(
    { ...connOpts(server), ...extra, user: user.name, password: user.password, unquotedLogin: server.unquotedLogin },
    rec ? (cmd, r) => rec.record(cmd, r.latencyMs, r.status === "OK", r.text) : undefined,
  );
}

/**
 * One load client: session after session until `deadline` (at the pacer's
 * rate when given), each logged in as `userFor()` and then driven by
 * `session` through its LOGOUT. A failed LOGIN is recorded and retried after
 * a pause; a session that throws is recorded as a failure and its connection
 * closed. Returns how many sessions ran to the end.
 */
export async function sessionLoop(
  server: ServerUnderTest,
  deadline: number,
  rec: Recorder,
  userFor: () => BenchUser,
  session: (c: ImapConnection, user: BenchUser) => Promise<void>,
  pace?: SessionPacer,
): Promise<number> {
  let sessions = 0;
  while (Date.now() < deadline) {
    await pace?.next();
    if (Date.now() >= deadline) break;
    const user = userFor();
    let c: ImapConnection;
    try {
      c = await login(server, user, rec);
    } catch (e) {
      rec.fail("LOGIN", (e as Error).message);
      await sleep(50);
      continue;
    }
    rec.connected(c.connectMs);
    try {
      await session(c, user);
      sessions++;
    } catch (e) {
      rec.fail("session", (e as Error).message);
    } finally {
      c.close();
    }
  }
  return sessions;
}

/** Appends count messages to a user's mailbox over `connections` sessions with `window` APPENDs in flight each. */
export async function seedMailbox(
  server: ServerUnderTest,
  user: BenchUser,
  count: number,
  o: { mailbox?: string; connections?: number; window?: number; size: (i: number) => number; flags?: (i: number) => string; seed?: number },
): Promise<{ ms: number; failures: number }> {
  const t0 = Date.now();
  const conns = o.connections ?? 1;
  const windowSize = o.window ?? 64;
  let next = 0;
  let failures = 0;
  const mailbox = o.mailbox ?? "INBOX";
  await Promise.all(
    Array.from({ length: conns }, async () => {
      const c = await login(server, user);
      try {
        const inflight = new Set<Promise<CommandResult>>();
        while (next < count || inflight.size > 0) {
          while (next < count && inflight.size < windowSize) {
            const i = next++;
            const flags = o.flags ? o.flags(i) : "";
            const p: Promise<CommandResult> = c.command([`APPEND ${mailbox} ${flags ? `(${flags}) ` : ""}`, makeMessage((o.seed ?? 0) + i, o.size(i))]);
            inflight.add(p);
            void p.then(
              (r) => {
                if (r.status !== "OK") failures++;
                inflight.delete(p);
              },
              () => inflight.delete(p),
            );
          }
          if (inflight.size > 0) await Promise.race(inflight);
        }
        await c.command("LOGOUT").catch(() => undefined);
      } finally {
        c.close();
      }
    }),
  );
  return { ms: Date.now() - t0, failures };
}

export function fmt(n: number | undefined, digits = 1): string {
  if (n === undefined || !Number.isFinite(n)) return "-";
  if (Math.abs(n) >= 1000) return n.toFixed(0);
  return n.toFixed(digits);
}
