// Scenario 6: Dovecot's imaptest against each server, when a binary is given
// with `--imaptest BIN` (it is not packaged for Debian, so the bench cannot
// install it). imaptest checks every response against the state it has
// tracked: its clients pipeline commands, and all of them share one user's
// INBOX, so each sees the others' appends, flag changes and expunges while it
// has the mailbox selected. Any "Error:" line it prints is a protocol or
// state error; the target is none. `--imaptest-args "checkpoint=2"` adds
// imaptest's checkpoints (every 2 s all clients stop, send CHECK and compare
// their views of the mailbox); they are not on by default because imaptest
// builds against Dovecot 2.3 can trip their own assertions there, with any
// server.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeMessage } from "../client/messages";
import { makeUsers } from "../servers/server";
import { BenchOptions, Figure, figure, ScenarioResult, ServerFactory, ServerName } from "./common";

export interface ImaptestOutcome {
  /** Final totals per column ("Logi", "Sele", ..., "ChkP"). */
  totals: Record<string, number>;
  /** Commands in the totals (checkpoints excluded). */
  commands: number;
  /** "Error:" lines, backtraces of a crash excluded. */
  errors: string[];
  /** imaptest's own crash ("Panic: ..." or "Fatal: ..."), if any. */
  crash?: string;
}

/** Reads what imaptest printed: the block after "Totals:" and every error line. */
export function parseImaptestOutput(text: string): ImaptestOutcome {
  const lines = text.split(/\r?\n/);
  const totals: Record<string, number> = {};
  const at = lines.lastIndexOf("Totals:");
  if (at >= 0) {
    const names = (lines[at + 1] ?? "").trim().split(/\s+/);
    // After the names come the percentage rows; the counts are the first row of plain numbers.
    const counts = lines.slice(at + 2).find((l) => /^\s*\d+(\s+\d+)*\s*$/.test(l));
    const values = counts ? counts.trim().split(/\s+/).map(Number) : [];
    names.forEach((n, i) => {
      if (n && values[i] !== undefined) totals[n] = values[i];
    });
  }
  const commands = Object.entries(totals).reduce((sum, [k, v]) => (k === "ChkP" ? sum : sum + v), 0);
  const errors = lines.filter((l) => l.startsWith("Error:") && !l.startsWith("Error: Raw backtrace"));
  const crash = lines.find((l) => l.startsWith("Panic:") || l.startsWith("Fatal:"));
  return { totals, commands, errors, crash };
}

/** An mbox of the bench's messages, LF line ends (imaptest adds the CRs). */
export function benchMbox(count: number): string {
  let out = "";
  for (let i = 1; i <= count; i++) {
    const body = makeMessage(60_000 + i, 600 + ((i * 977) % 6000)).toString("latin1").replace(/\r\n/g, "\n");
    out += `From sender${i}@example.test Mon Nov 23 04:00:00 2026\n${body}${body.endsWith("\n") ? "" : "\n"}\n`;
  }
  return out;
}

interface Run extends ImaptestOutcome {
  /** The exit code, or the signal that ended imaptest. */
  exit: string;
  wallS: number;
}

function runImaptest(bin: string, args: string[], limitMs: number): Promise<{ output: string; exit: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => chunks.push(c));
    // imaptest stops by itself after secs=; this only bounds a hang.
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ output: Buffer.concat(chunks).toString("utf8"), exit: signal ?? String(code) });
    });
  });
}

export async function imaptestScenario(opts: BenchOptions, start: ServerFactory, servers: ServerName[]): Promise<ScenarioResult> {
  const t0 = Date.now();
  const secs = opts.durationS ?? (opts.quick ? 5 : 30);
  const clients = 10;
  const extra = opts.imaptestArgs ?? [];
  const params = { secs, clients, users: 1, extraArgs: extra.join(" ") };
  if (!opts.imaptest) {
    return { id: "imaptest", title: "imaptest state tracking", params, figures: [], notes: ["imaptest not run: give --imaptest BIN"], raw: {}, durationMs: 0 };
  }
  const bin = path.resolve(opts.imaptest);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "charon-imaptest-"));
  const mbox = path.join(dir, "messages.mbox");
  fs.writeFileSync(mbox, benchMbox(50));
  const users = makeUsers(1);
  const raw: Record<string, Run> = {};
  const notes: string[] = [];
  try {
    for (const name of servers.filter((s) => s !== "pluto")) {
      const server = await start(name, users, clients + 10);
      try {
        const u = server.users[0];
        const args = [`host=${server.host}`, `port=${server.port}`, "ssl=any-cert", `user=${u.name}`, `pass=${u.password}`, `mbox=${mbox}`, `secs=${secs}`, `clients=${clients}`, ...extra];
        const began = Date.now();
        const { output, exit } = await runImaptest(bin, args, (secs + 60) * 1000);
        fs.writeFileSync(path.join(dir, `${name}.out`), output);
        raw[name] = { ...parseImaptestOutput(output), exit, wallS: (Date.now() - began) / 1000 };
        const r = raw[name];
        opts.log(`  ${name}: ${r.commands} commands, ${r.totals.ChkP ?? 0} checkpoints, ${r.errors.length} errors, exit ${exit}${r.crash ? `, ${r.crash}` : ""}`);
        if (r.errors.length) notes.push(`${name}: imaptest errors, e.g. ${r.errors.slice(0, 3).join(" | ")}`);
        if (r.crash || exit !== "0") notes.push(`${name}: imaptest exited ${exit}${r.crash ? ` (${r.crash})` : ""}; output in ${path.join(dir, `${name}.out`)}`);
      } finally {
        await server.stop();
      }
    }
  } finally {
    // The outputs stay only when there is something to look at.
    if (notes.length === 0) fs.rmSync(dir, { recursive: true, force: true });
    else fs.rmSync(mbox, { force: true });
  }
  const vals = (f: (r: Run) => number) => {
    const v: Partial<Record<ServerName, number>> = {};
    for (const n of Object.keys(raw) as ServerName[]) v[n] = f(raw[n]);
    return v;
  };
  const figures: Figure[] = [];
  const errors = figure({ group: "imaptest", metric: "state-tracking errors", unit: "lines", better: "lower", values: vals((r) => r.errors.length) });
  if (raw.charon) errors.target = { text: "no protocol or state errors", met: raw.charon.errors.length === 0 && !raw.charon.crash && raw.charon.exit === "0" };
  figures.push(errors);
  figures.push(figure({ group: "imaptest", metric: "commands/s", unit: "ops/s", better: "higher", values: vals((r) => r.commands / secs) }));
  if (Object.values(raw).some((r) => (r.totals.ChkP ?? 0) > 0)) {
    figures.push(figure({ group: "imaptest", metric: "checkpoints", unit: "ops", better: "higher", values: vals((r) => r.totals.ChkP ?? 0) }));
  }
  return { id: "imaptest", title: "imaptest state tracking (10 clients sharing one INBOX)", params, figures, notes, raw, durationMs: Date.now() - t0 };
}
