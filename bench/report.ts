// The terminal table and the per-run JSON file.
import type { Figure, ScenarioResult, ServerName } from "./scenarios/common";

function cell(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "-";
  if (Math.abs(n) >= 1000) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function targetCell(f: Figure): string {
  if (!f.target) return "";
  const verdict = f.target.met === true ? "MET" : f.target.met === false ? "NOT MET" : "not judged";
  return `${verdict}: ${f.target.text}`;
}

export function table(results: ScenarioResult[], servers: ServerName[]): string {
  const header = ["scenario", "group", "metric", "unit", ...servers, "charon/dovecot", ...(servers.includes("pluto") ? ["charon/pluto"] : []), "target"];
  const rows: string[][] = [];
  for (const r of results)
    for (const f of r.figures)
      rows.push([
        r.id,
        f.group,
        f.metric,
        f.unit,
        ...servers.map((s) => cell(f.values[s])),
        f.ratio !== undefined ? `x${cell(f.ratio)}` : "-",
        ...(servers.includes("pluto") ? [f.ratioPluto !== undefined ? `x${cell(f.ratioPluto)}` : "-"] : []),
        targetCell(f),
      ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const numeric = (i: number) => i >= 4 && i < header.length - 1;
  const line = (row: string[]) => row.map((c, i) => (numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  const out = [line(header), widths.map((w) => "-".repeat(w)).join("  ")];
  let prev = "";
  for (const row of rows) {
    if (prev && row[0] !== prev) out.push("");
    prev = row[0];
    out.push(line(row));
  }
  return out.join("\n");
}

export function summaryOfTargets(results: ScenarioResult[]): { met: number; notMet: number; notJudged: number } {
  let met = 0;
  let notMet = 0;
  let notJudged = 0;
  for (const r of results)
    for (const f of r.figures) {
      if (!f.target) continue;
      if (f.target.met === true) met++;
      else if (f.target.met === false) notMet++;
      else notJudged++;
    }
  return { met, notMet, notJudged };
}
