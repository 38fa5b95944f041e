import { ProtocolError } from "../tokenizer";
const M = ["Jan","Feb","Mar","Apr","May","Jun","Jul","Aug","Sep","Oct","Nov","Dec"];
export function parseDateTime(text: string): number {
  const m = /^ ?(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(text);
  if (!m) throw new ProtocolError("bad date");
  const off = (Number(m[8]) * 60 + Number(m[9])) * (m[7] === "+" ? 1 : -1);
  return Date.UTC(+m[3]!, M.indexOf(m[2]!), +m[1]!, +m[4]!, +m[5]!, +m[6]!) - off * 60000;
}
export function parseSearchDate(text: string): string { return text; }
export function formatInternalDate(ms: number): string {
  const d = new Date(ms); const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getUTCDate())}-${M[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
