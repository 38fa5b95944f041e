// RFC 3501 date and date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be space-padded) and search dates "d-Mon-yyyy".
import { ProtocolError } from "../tokenizer";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function calendarDate(day: string, mon: string, year: string): [number, number, number] {
  const m = MONTHS.findIndex((x) => x.toLowerCase() === mon.toLowerCase());
  const d = Number(day);
  const y = Number(year);
  const daysInMonth = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  if (m < 0 || d < 1 || d > daysInMonth) throw new ProtocolError(`invalid date ${day}-${mon}-${year}`);
  return [y, m, d];
}

export function parseDateTime(text: string): number {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(text);
  if (!m) throw new ProtocolError(`invalid date-time "${text}"`);
  const [y, mon, d] = calendarDate(m[1]!, m[2]!, m[3]!);
  const [hh, mm, ss, zh, zm] = [m[4], m[5], m[6], m[8], m[9]].map(Number) as [number, number, number, number, number];
  if (hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59) throw new ProtocolError(`invalid date-time "${text}"`);
  const offsetMinutes = (zh * 60 + zm) * (m[7] === "+" ? 1 : -1);
  return Date.UTC(y, mon, d, hh, mm, ss) - offsetMinutes * 60_000;
}

export function parseSearchDate(text: string): string {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  if (!m) throw new ProtocolError(`invalid date "${text}"`);
  const [y, mon, d] = calendarDate(m[1]!, m[2]!, m[3]!);
  return `${String(y).padStart(4, "0")}-${String(mon + 1).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

export function formatInternalDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
