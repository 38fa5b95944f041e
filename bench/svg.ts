// A hand-written SVG bar chart: one row per figure, the servers' bars side by
// side (each row scaled to its own largest value, since units differ), the
// value at the end of each bar and the ratio charon/Dovecot on the right,
// green when the row's target is met, red when it is not.
import type { Figure, ScenarioResult, ServerName } from "./scenarios/common";

export const COLORS: Record<ServerName, string> = { charon: "#3b6fd4", dovecot: "#e08a1e", pluto: "#3a9a4a" };

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c] as string);
}

function num(n: number): string {
  if (!Number.isFinite(n)) return "-";
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** "group · metric (unit, lower is better)", without the group when the metric already starts with it; at most 64 characters. */
export function rowLabel(f: Figure): string {
  const name = f.metric.startsWith(f.group) ? f.metric : `${f.group} · ${f.metric}`;
  const label = `${name} (${f.unit}${f.better === "lower" ? ", lower is better" : ""})`;
  return label.length > 64 ? `${label.slice(0, 63)}…` : label;
}

export function chartSvg(result: Pick<ScenarioResult, "title" | "figures">, servers: ServerName[]): string {
  const labelW = 400;
  const barW = 360;
  const ratioW = 150;
  const barH = 12;
  const rowPad = 10;
  const top = 56;
  const rows = result.figures;
  const rowH = servers.length * barH + rowPad;
  const width = labelW + barW + ratioW + 20;
  const height = top + rows.length * rowH + 20;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(result.title)}</text>`);
  servers.forEach((s, i) => {
    const x = 10 + i * 110;
    out.push(`<rect x="${x}" y="30" width="12" height="12" fill="${COLORS[s]}"/><text x="${x + 16}" y="40">${s}</text>`);
  });
  out.push(`<text x="${labelW + barW + 10}" y="40" font-weight="bold">charon/Dovecot</text>`);
  rows.forEach((f: Figure, r) => {
    const y0 = top + r * rowH;
    if (r % 2 === 0) out.push(`<rect x="0" y="${y0 - 2}" width="${width}" height="${rowH}" fill="#f4f4f4"/>`);
    out.push(`<text x="10" y="${y0 + (servers.length * barH) / 2 + 4}">${escapeXml(rowLabel(f))}</text>`);
    const vals = servers.map((s) => f.values[s]);
    const max = Math.max(0, ...vals.filter((v): v is number => v !== undefined && Number.isFinite(v)));
    servers.forEach((s, i) => {
      const v = f.values[s];
      const y = y0 + i * barH;
      if (v === undefined || !Number.isFinite(v)) {
        out.push(`<text x="${labelW + 4}" y="${y + barH - 2}" fill="#999">${s}: n/a</text>`);
        return;
      }
      const w = max > 0 ? Math.max(1, (v / max) * (barW - 70)) : 1;
      out.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${COLORS[s]}"/>`);
      out.push(`<text x="${(labelW + w + 4).toFixed(1)}" y="${y + barH - 2}">${num(v)}</text>`);
    });
    const color = f.target?.met === true ? "#1a7f37" : f.target?.met === false ? "#cf222e" : "#555";
    const ratioText = f.ratio !== undefined ? `×${num(f.ratio)}` : "-";
    const mark = f.target ? (f.target.met === true ? " met" : f.target.met === false ? " not met" : " not judged") : "";
    out.push(`<text x="${labelW + barW + 10}" y="${y0 + (servers.length * barH) / 2 + 4}" fill="${color}">${escapeXml(ratioText + mark)}</text>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
