// A strict reader of the Prometheus text exposition format (version 0.0.4),
// enough for tests and tools to check what a node's /metrics serves: every
// line must be a HELP/TYPE comment or a well-formed sample, and every sample
// must belong to a family with a TYPE.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: string;
  help?: string;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+(-?\\d+))?$`);
const LABEL_RE = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, line: number): number {
  // Go's ParseFloat (Prometheus) takes these case-insensitively; prom-client writes "Nan".
  const lower = text.toLowerCase();
  if (lower === "+inf" || lower === "inf") return Infinity;
  if (lower === "-inf") return -Infinity;
  if (lower === "nan") return NaN;
  const v = Number(text);
  if (text === "" || Number.isNaN(v)) throw new Error(`line ${line}: bad sample value ${JSON.stringify(text)}`);
  return v;
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL_RE.lastIndex = 0;
  while (LABEL_RE.lastIndex < text.length) {
    const m = LABEL_RE.exec(text);
    if (!m) throw new Error(`line ${line}: bad labels {${text}}`);
    if (m[1]! in labels) throw new Error(`line ${line}: duplicate label ${m[1]}`);
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    if (m[3] === "") break;
  }
  return labels;
}

/** The family a sample name belongs to (histogram/summary series carry suffixes). */
function familyOf(name: string, families: Map<string, MetricFamily>): MetricFamily | undefined {
  const direct = families.get(name);
  if (direct) return direct;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (name.endsWith(suffix)) {
      const f = families.get(name.slice(0, -suffix.length));
      if (f && (f.type === "histogram" || f.type === "summary")) return f;
    }
  }
  return undefined;
}

/** Throws with the line number on anything that is not valid exposition text. */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === "") return;
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!m) return; // other comments are allowed
      const [, kind, name, rest = ""] = m;
      if (!new RegExp(`^${NAME}$`).test(name!)) throw new Error(`line ${n}: bad metric name ${name}`);
      let f = families.get(name!);
      if (!f) {
        f = { name: name!, type: "untyped", samples: [] };
        families.set(name!, f);
      }
      if (kind === "TYPE") {
        if (!TYPES.has(rest)) throw new Error(`line ${n}: unknown type ${rest}`);
        if (f.samples.length > 0) throw new Error(`line ${n}: TYPE after samples of ${name}`);
        f.type = rest;
      } else {
        f.help = rest;
      }
      return;
    }
    const m = SAMPLE_RE.exec(line);
    if (!m) throw new Error(`line ${n}: not a sample: ${JSON.stringify(raw)}`);
    const family = familyOf(m[1]!, families);
    if (!family) throw new Error(`line ${n}: sample ${m[1]} has no HELP/TYPE`);
    family.samples.push({ name: m[1]!, labels: m[2] ? parseLabels(m[2], n) : {}, value: parseValue(m[3]!, n) });
  });
  return families;
}

/** Sum of the samples named `name` whose labels include `match`. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, match: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) {
        total += s.value;
        found = true;
      }
    }
  }
  return found ? total : NaN;
}
