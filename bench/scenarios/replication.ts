// Scenario 5: replication lag. charon's mail nodes expose on their admin
// port the histogram charon_replication_ack_seconds: for each live op, the
// time from shipping it (the moment it is durable locally) to the peer's
// acknowledgement, which the peer sends once the op is durable there. That
// is the replication lag plus one return trip, so it errs on the slow side.
// This measures the peak APPEND rate, runs a steady APPEND load at half of
// it, and reports lag p50/p99 from the histogram's increase and bytes
// shipped per op sent. Without the metric it says so, and measures nothing
// it could not back.
import { MessagePool } from "../client/messages";
import { mulberry32 } from "../../src/util/mulberry32";
import { Recorder, randInt } from "../client/stats";
import { makeUsers, ServerUnderTest } from "../servers/server";
import { sleep } from "../servers/proc";
import { BenchOptions, Figure, figure, login, ScenarioResult, ServerFactory, ServerName } from "./common";

const POOL = new MessagePool(33, 128, 1024, 8 * 1024);

export const LAG_METRIC = "charon_replication_ack_seconds";
const BYTES_METRIC = /^charon_replication_bytes_shipped_total$/;
const OPS_METRIC = /^charon_replication_ops_sent_total$/;

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (comments skipped). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[2]) for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Cumulative bucket counts by upper bound, summed over every series of a histogram. */
export function histogramBuckets(samples: Sample[], metric: string): Map<number, number> {
  const b = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${metric}_bucket`) continue;
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    b.set(le, (b.get(le) ?? 0) + s.value);
  }
  return b;
}

/** The q-quantile (0..1) of a cumulative histogram, interpolated inside its bucket like histogram_quantile. */
export function histogramQuantile(buckets: Map<number, number>, q: number): number {
  const les = [...buckets.keys()].sort((a, b) => a - b);
  if (les.length === 0) return NaN;
  const total = buckets.get(les[les.length - 1]) ?? 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const le of les) {
    const count = buckets.get(le) ?? 0;
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      if (count === prevCount) return le;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/** The metric families a node declares (`# TYPE` lines): a histogram has no samples before its first observation. */
export function declaredFamilies(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
}

async function scrape(urls: string[], families?: Set<string>): Promise<Sample[]> {
  const all: Sample[] = [];
  for (const url of urls) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      for (const f of declaredFamilies(text)) families?.add(f);
      all.push(...parsePrometheus(text));
    } catch {
      /* a node without metrics */
    }
  }
  return all;
}

function sumOf(samples: Sample[], re: RegExp): { total: number; names: string[] } {
  const names = new Set<string>();
  let total = 0;
  for (const s of samples)
    if (re.test(s.name)) {
      names.add(s.name);
      total += s.value;
    }
  return { total, names: [...names] };
}

/** APPENDs from `clients` sessions, each paced to `perClientRate` per second (0 = as fast as it can), until the deadline. */
async function appendLoad(server: ServerUnderTest, phase: string, clients: number, perClientRate: number, durationS: number): Promise<{ ops: number; wallS: number }> {
  const rec = new Recorder();
  const t0 = Date.now();
  const deadline = t0 + durationS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      const r = mulberry32(900 + i);
      const c = await login(server, server.users[i % server.users.length]);
      try {
        let next = Date.now();
        let k = 0;
        while (Date.now() < deadline) {
          if (perClientRate > 0) {
            next += 1000 / perClientRate;
            const wait = next - Date.now();
            if (wait > 0) await sleep(wait);
          }
          // A unique first line: every body is a new blob, as real mail is, so bytes per op include it.
          const body = Buffer.concat([Buffer.from(`X-Bench-Seq: ${phase}.${i}.${k}\r\n`), POOL.pick(randInt(r, 0, POOL.size - 1) + k++)]);
          const res = await c.command(["APPEND INBOX ", body]);
          rec.record("APPEND", res.latencyMs, res.status === "OK", res.text);
        }
      } finally {
        c.close();
      }
    }),
  );
  return { ops: rec.totalCount(), wallS: (Date.now() - t0) / 1000 };
}

export async function replicationScenario(opts: BenchOptions, start: ServerFactory, servers: ServerName[]): Promise<ScenarioResult> {
  const t0 = Date.now();
  const durationS = opts.durationS ?? (opts.quick ? 5 : 30);
  const users = makeUsers(10);
  const notes: string[] = [];
  const figures: Figure[] = [];
  const raw: Record<string, unknown> = {};
  if (!servers.includes("charon")) return { id: "replication", title: "Replication lag", params: {}, figures, notes: ["charon not run"], raw, durationMs: 0 };
  notes.push("Dovecot is not configured for replication here (dsync replication is another setup): its column stays empty");
  const server = await start("charon", users, 50);
  try {
    const urls = server.metricsUrls();
    const declared = new Set<string>();
    await scrape(urls, declared);
    const families = [...declared].filter((n) => n.startsWith("charon_replication"));
    raw.charon = { metricsUrls: urls, replicationFamilies: families };
    if (!declared.has(LAG_METRIC)) {
      notes.unshift(`not available yet: no charon node exposes ${LAG_METRIC} on its admin /metrics (${urls.length} nodes scraped${families.length ? `; replication families seen: ${families.join(", ")}` : ""}); lag and bytes per op are not reported`);
      figures.push(figure({ group: "lag", metric: "replication lag p99", unit: "ms", better: "lower", values: {}, target: { text: "p99 < 100 ms at half the peak write load", met: null } }));
      return { id: "replication", title: "Replication lag at half the peak write load", params: { durationS }, figures, notes, raw, durationMs: Date.now() - t0 };
    }
    const peak = await appendLoad(server, "peak", 10, 0, Math.max(3, durationS / 2));
    const peakRate = peak.ops / peak.wallS;
    // The steady phase starts from empty outboxes, so its lag is not the peak's backlog draining.
    const drainStart = Date.now();
    let outbox = Infinity;
    while (Date.now() - drainStart < 60_000) {
      outbox = sumOf(await scrape(urls), /^charon_replication_outbox_ops$/).total;
      if (outbox === 0) break;
      await sleep(250);
    }
    const drainMs = Date.now() - drainStart;
    if (outbox > 0) notes.push(`outboxes still held ${outbox} ops 60 s after the peak phase`);
    const s0 = await scrape(urls);
    const half = await appendLoad(server, "steady", 10, peakRate / 2 / 10, durationS);
    await sleep(1000);
    const s1 = await scrape(urls);
    const b0 = histogramBuckets(s0, LAG_METRIC);
    const b1 = histogramBuckets(s1, LAG_METRIC);
    const delta = new Map<number, number>();
    for (const [le, v] of b1) delta.set(le, v - (b0.get(le) ?? 0));
    const p50 = histogramQuantile(delta, 0.5) * 1000;
    const p99 = histogramQuantile(delta, 0.99) * 1000;
    const bytes = sumOf(s1, BYTES_METRIC).total - sumOf(s0, BYTES_METRIC).total;
    const opsC = sumOf(s1, OPS_METRIC);
    const ops = opsC.total - sumOf(s0, OPS_METRIC).total;
    raw.charon = { ...(raw.charon as object), peakRate, drainMs, halfRate: half.ops / half.wallS, lagP50Ms: p50, lagP99Ms: p99, bytes, ops, opsFamilies: opsC.names };
    figures.push(figure({ group: "load", metric: "peak APPEND rate", unit: "ops/s", better: "higher", values: { charon: peakRate } }));
    figures.push(figure({ group: "load", metric: "backlog drained after peak", unit: "ms", better: "lower", values: { charon: drainMs } }));
    figures.push(figure({ group: "load", metric: "steady APPEND rate", unit: "ops/s", better: "higher", values: { charon: half.ops / half.wallS } }));
    figures.push(figure({ group: "lag", metric: "replication lag p50", unit: "ms", better: "lower", values: { charon: p50 } }));
    figures.push(figure({ group: "lag", metric: "replication lag p99", unit: "ms", better: "lower", values: { charon: p99 }, target: { text: "p99 < 100 ms at half the peak write load", met: Number.isFinite(p99) ? p99 < 100 : null } }));
    if (ops > 0) figures.push(figure({ group: "shipping", metric: "bytes shipped per op", unit: "B", better: "lower", values: { charon: bytes / ops } }));
    else notes.push("bytes per op not reported: charon_replication_ops_sent_total did not move");
  } finally {
    await server.stop();
  }
  return { id: "replication", title: "Replication lag at half the peak write load", params: { durationS }, figures, notes, raw, durationMs: Date.now() - t0 };
}
