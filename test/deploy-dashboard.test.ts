// deploy/grafana/charon-dashboard.json: every metric a panel queries exists in
// a real node's registry (src/metrics createMetrics), with the labels the
// query uses, and every charon_* family of issue 5 has a panel.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetrics, type Metrics } from "../src/metrics";
import { EVERY_NODE_FAMILIES, MAIL_NODE_FAMILIES } from "../src/metrics/families";
import { REPLICATION_FAMILIES, replicationMetrics } from "../src/metrics/replication";

const FILE = path.resolve(__dirname, "..", "deploy", "grafana", "charon-dashboard.json");
const ISSUE_FAMILIES = [...EVERY_NODE_FAMILIES, ...MAIL_NODE_FAMILIES, ...REPLICATION_FAMILIES];

interface Panel {
  id: number;
  title: string;
  type: string;
  targets: Array<{ expr: string; refId: string }>;
}

/** Family name of a series name: histogram _bucket/_sum/_count map back to the histogram. */
function familyOf(series: string, families: Map<string, { type: string; labels: Set<string> }>): string | undefined {
  if (families.has(series)) return series;
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  return m && families.get(m[1])?.type === "histogram" ? m[1] : undefined;
}

describe("Grafana dashboard", () => {
  let metrics: Metrics;
  let families: Map<string, { type: string; labels: Set<string> }>;
  const dash = JSON.parse(readFileSync(FILE, "utf8")) as { uid: string; title: string; panels: Panel[]; templating: { list: Array<{ name: string }> } };

  beforeAll(async () => {
    metrics = createMetrics({ node: "n", role: "worker" });
    // give labelled families one sample so their label names show
    const obs = metrics.sessionObserver();
    obs.sessionOpened();
    obs.commandDone("NOOP", "OK", 0.001);
    obs.authFailed("authenticationfailed");
    // a mail node also registers the replication metrics; one sample per labelled family
    const repl = replicationMetrics(metrics.registry);
    repl.lag("peer-1", 0);
    repl.ackLatency("peer-1", 0.001);
    repl.outboxDepth("peer-1", 0);
    repl.opsSent("peer-1", 1);
    repl.bytesShipped("peer-1", 1);
    repl.snapshotSent("peer-1");
    families = new Map();
    for (const f of await metrics.registry.getMetricsAsJSON()) {
      const labels = new Set<string>(["node", "role", "le", "instance", "job", "pod", "namespace"]);
      for (const v of f.values) for (const k of Object.keys(v.labels ?? {})) labels.add(k);
      families.set(f.name, { type: String(f.type), labels });
    }
  });
  afterAll(() => metrics.close());

  it("is a dashboard with unique panel ids and a datasource variable", () => {
    expect(dash.uid).toBe("charon-overview");
    expect(new Set(dash.panels.map((p) => p.id)).size).toBe(dash.panels.length);
    expect(dash.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(["datasource", "role", "node"]));
  });

  it("queries only metrics and labels a node exports", () => {
    const problems: string[] = [];
    for (const p of dash.panels) {
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) {
        const names = [...t.expr.matchAll(/\b(charon_[a-z0-9_]+)\b/g)].map((m) => m[1]);
        if (names.length === 0) problems.push(`${p.title}: ${t.expr} queries no charon_ metric`);
        for (const n of names) {
          const fam = familyOf(n, families);
          if (!fam) {
            problems.push(`${p.title}: ${n} is not exported`);
            continue;
          }
          // label names in selectors {a="..", b=~".."} and in by (...) clauses
          const used = [
            ...[...t.expr.matchAll(/([a-z_]+)\s*(?:=~|!=|!~|=)\s*"/g)].map((m) => m[1]),
            ...[...t.expr.matchAll(/by \(([^)]*)\)/g)].flatMap((m) => m[1].split(",").map((s) => s.trim())),
          ];
          for (const l of used) if (!families.get(fam)!.labels.has(l)) problems.push(`${p.title}: label ${l} is not on ${fam}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("has a panel for every metric family of issue 5", () => {
    const queried = new Set(dash.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\b(charon_[a-z0-9_]+)\b/g)].map((m) => familyOf(m[1], families)))));
    for (const f of ISSUE_FAMILIES) expect(queried.has(f), `${f} has no panel`).toBe(true);
  });
});
