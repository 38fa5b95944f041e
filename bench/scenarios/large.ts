// Scenario 4: large mailbox. Appends N messages to one INBOX with pipelined
// LITERAL+ APPENDs (every other one \Seen), then times, in fresh sessions,
// SELECT INBOX, UID FETCH 1:* (FLAGS) and SEARCH UNSEEN (median of a few runs),
// once the server has come to rest after the load.
import { makeMessage } from "../client/messages";
import { makeUsers } from "../servers/server";
import { summarize } from "../client/stats";
import { BenchOptions, Figure, figure, login, ScenarioResult, seedMailbox, ServerFactory, ServerName, waitUntilIdle } from "./common";

interface LargeRun {
  messages: number;
  appendMs: number;
  appendFailures: number;
  appendPerS: number;
  /** How long the server kept working after loading before it was timed. */
  settleMs: number;
  select: number[];
  fetchFlags: number[];
  searchUnseen: number[];
  fetchResponses: number;
  searchHits: number;
  errors: string[];
}

const WARMUP = 2;
const TARGETS = { SELECT: 50, "UID FETCH 1:* (FLAGS)": 500, "SEARCH UNSEEN": 100 } as const;

/**
 * Above this many messages a server that can import files is loaded that way:
 * Dovecot's APPEND into one Maildir slows to ~30/s past 40,000 messages, so
 * 100,000 would take hours. Charon has no import and always APPENDs.
 */
const IMPORT_ABOVE = 20_000;

export async function largeScenario(opts: BenchOptions, start: ServerFactory, servers: ServerName[]): Promise<ScenarioResult> {
  const t0 = Date.now();
  const n = opts.largeMessages ?? (opts.quick ? 2000 : 100_000);
  const reps = opts.quick ? 3 : 5;
  const users = makeUsers(1);
  const raw: Record<string, LargeRun> = {};
  const notes: string[] = [];
  for (const name of servers) {
    if (name === "pluto") continue;
    const server = await start(name, users, 50);
    try {
      const size = (i: number) => 600 + ((i * 37) % 1400);
      const seen = (i: number) => i % 2 === 0;
      let seed: { ms: number; failures: number; imported: boolean };
      if (server.importMessages && n > IMPORT_ABOVE) {
        const ti = Date.now();
        await server.importMessages(users[0].name, n, (i) => ({ data: makeMessage(i, size(i)), seen: seen(i) }));
        seed = { ms: Date.now() - ti, failures: 0, imported: true };
        opts.log(`  ${name}: imported ${n} messages as files and indexed them in ${seed.ms} ms`);
        notes.push(`${name}: the ${n} messages were written into its Maildir and indexed (doveadm mailbox status), not APPENDed, so it has no APPEND rate here`);
      } else {
        seed = { ...(await seedMailbox(server, users[0], n, { connections: 8, window: 64, size, flags: (i) => (seen(i) ? "\\Seen" : "") })), imported: false };
        opts.log(`  ${name}: appended ${n} messages in ${seed.ms} ms (${((n / seed.ms) * 1000).toFixed(0)}/s, ${seed.failures} failed)`);
      }
      // Timed at rest: after a bulk load both servers still write for a while.
      const settle = await waitUntilIdle(server);
      opts.log(`  ${name}: ${settle.settled ? "at rest" : "still busy"} after ${settle.ms} ms`);
      if (!settle.settled) notes.push(`${name}: still using CPU ${settle.ms} ms after loading; timed anyway`);
      const run: LargeRun = { messages: n, appendMs: seed.ms, appendFailures: seed.failures, appendPerS: seed.imported ? NaN : (n / seed.ms) * 1000, settleMs: settle.ms, select: [], fetchFlags: [], searchUnseen: [], fetchResponses: 0, searchHits: 0, errors: [] };
      // The first WARMUP sessions are not recorded, as in the mixed workload:
      // JIT, caches, and Dovecot's first sync of a freshly written Maildir.
      for (let i = 0; i < WARMUP + reps; i++) {
        const c = await login(server, users[0], undefined, { countOnly: true });
        try {
          const sel = await c.command("SELECT INBOX");
          const f = await c.command("UID FETCH 1:* (FLAGS)");
          const s = await c.command("SEARCH UNSEEN");
          for (const r of [sel, f, s]) if (r.status !== "OK" && run.errors.length < 5) run.errors.push(r.text);
          if (i >= WARMUP) {
            run.select.push(sel.latencyMs);
            run.fetchFlags.push(f.latencyMs);
            run.searchUnseen.push(s.latencyMs);
          }
          run.fetchResponses = f.untaggedCount;
          await c.command("LOGOUT");
        } finally {
          c.close();
        }
      }
      // One more SEARCH with the result kept, to check the count.
      const c = await login(server, users[0]);
      try {
        await c.command("EXAMINE INBOX");
        const s = await c.command("SEARCH UNSEEN");
        const line = s.untagged.find((u) => /^\* SEARCH/i.test(u.text));
        run.searchHits = line ? line.text.trim().split(/\s+/).length - 2 : 0;
      } finally {
        c.close();
      }
      const m = (xs: number[]) => summarize(xs).p50.toFixed(1);
      opts.log(`  ${name}: median of ${reps}: SELECT ${m(run.select)} ms, UID FETCH 1:* (FLAGS) ${m(run.fetchFlags)} ms, SEARCH UNSEEN ${m(run.searchUnseen)} ms (${run.searchHits} hits)`);
      if (run.fetchResponses !== n) notes.push(`${name}: UID FETCH 1:* returned ${run.fetchResponses} responses for ${n} messages`);
      if (run.errors.length) notes.push(`${name}: ${run.errors.join(" | ")}`);
      raw[name] = run;
    } finally {
      await server.stop();
    }
  }
  const vals = (f: (r: LargeRun) => number) => {
    const v: Partial<Record<ServerName, number>> = {};
    for (const k of Object.keys(raw) as ServerName[]) v[k] = f(raw[k]);
    return v;
  };
  const group = `${n} messages`;
  const figures: Figure[] = [];
  const med = (xs: number[]) => summarize(xs).p50;
  const timed: Array<[keyof typeof TARGETS, (r: LargeRun) => number[]]> = [
    ["SELECT", (r) => r.select],
    ["UID FETCH 1:* (FLAGS)", (r) => r.fetchFlags],
    ["SEARCH UNSEEN", (r) => r.searchUnseen],
  ];
  for (const [metric, get] of timed) {
    const f = figure({ group, metric, unit: "ms", better: "lower", values: vals((r) => med(get(r))) });
    if (raw.charon) f.target = { text: `charon < ${TARGETS[metric]} ms at 100,000 messages`, met: n >= 100_000 ? med(get(raw.charon)) < TARGETS[metric] : null };
    figures.push(f);
  }
  figures.push(figure({ group, metric: "APPEND rate (seeding)", unit: "msgs/s", better: "higher", values: vals((r) => r.appendPerS) }));
  figures.push(figure({ group, metric: "SEARCH UNSEEN hits", unit: "msgs", better: "higher", values: vals((r) => r.searchHits) }));
  if (n < 100_000) notes.push(`scaled down to ${n} messages (quick or --large-messages); the targets are judged at 100,000`);
  return { id: "large", title: "Large mailbox: SELECT, UID FETCH 1:* (FLAGS), SEARCH UNSEEN", params: { messages: n, reps, warmupSessions: WARMUP }, figures, notes, raw, durationMs: Date.now() - t0 };
}
