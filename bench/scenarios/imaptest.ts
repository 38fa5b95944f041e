// Scenario 6: Dovecot's imaptest against each server, when a binary is given
// with `--imaptest BIN` (it is not packaged for Debian, so the bench cannot
// install it). imaptest checks every response against the state it has
// tracked: its clients pipeline commands, and all of them share one user's
// INBOX, so each sees the others' appends, flag changes and expunges while it
// has the mailbox selected. Any "Error:" line it prints is a protocol or
// state error; the target is none. Nor may the server keep a client waiting:
// imaptest names each one idle for over 15 s, and one waiting on a command or
// on the close after BYE is waiting on the server.
//
// Two passes per server. The first runs imaptest's default profile, whose
// commands/s are compared. The second adds checkpoints (every 2 s all clients
// stop, send CHECK and compare their views of the mailbox), which catch an
// update one session never got. They are a pass of their own because
// imaptest builds against Dovecot 2.3 can trip their own assertions there,
// with any server: such a crash is reported as a crash of imaptest, and the
// first pass's figures stand. `--imaptest-args` goes to these two passes; one
// that sets checkpoint= itself leaves out the second.
//
// A third pass runs imaptest's profile mode: 10 users whose clients behave
// as Thunderbird and Apple Mail do (a connection per mailbox, IDLE, header
// fetches of new mail, reading, replying, deleting and moving), while new
// mail arrives over LMTP every few seconds. Both servers get that mail the
// same way, through LmtpToImap (APPEND as the recipient), so each IDLE
// session must be told of mail and changes it did not cause.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LmtpToImap } from "../client/lmtp-append";
import { makeMessage } from "../client/messages";
import { BenchUser, makeUsers, ServerUnderTest } from "../servers/server";
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
  /**
   * Clients the server kept waiting for more than 15 s: a command without an
   * answer, or a BYE without the connection closing. One entry per client and
   * wait, at its longest.
   */
  stalls: string[];
  /** After secs= imaptest waited its final 30 s for clients to finish, then stopped them. */
  forcedStop: boolean;
}

// imaptest's per-second report names each client idle for more than 15 s and
// what it waits for: "command: TAG LINE", "BYE, waiting for disconnect", or a
// state name when it has nothing in flight (its own checkpoint wait, say).
const STALL = /^ - (\d+) stalled for (\d+) secs in (command: (\d+) .*|BYE, waiting for disconnect)$/;

function serverStalls(lines: string[]): string[] {
  const longest = new Map<string, { secs: number; what: string }>();
  for (const l of lines) {
    const m = STALL.exec(l);
    if (!m) continue;
    // The same wait is reported every second; a new tag is a new wait.
    const key = `${m[1]}/${m[4] ?? "BYE"}`;
    const secs = Number(m[2]);
    if ((longest.get(key)?.secs ?? -1) < secs) longest.set(key, { secs, what: `client ${m[1]} waited ${secs} s in ${m[3]!.slice(0, 100)}` });
  }
  return [...longest.values()].map((v) => v.what);
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
  const forcedStop = lines.some((l) => l.includes("Second timeout triggered while trying to stop"));
  return { totals, commands, errors, crash, stalls: serverStalls(lines), forcedStop };
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

export interface Run extends ImaptestOutcome {
  /** The exit code, or the signal that ended imaptest. */
  exit: string;
  wallS: number;
  /** Profile mode: messages the LMTP shim appended. */
  delivered?: number;
}

// imaptest's stdout into a pipe is block-buffered, so a run killed at the
// time limit would lose all it printed; line buffering keeps where it hung.
const STDBUF = "/usr/bin/stdbuf";

function runImaptest(bin: string, args: string[], limitMs: number): Promise<{ output: string; exit: string }> {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = fs.existsSync(STDBUF) ? [STDBUF, ["-oL", bin, ...args]] : [bin, args];
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
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

export interface ImaptestPass {
  name: string;
  args: string[];
  /** imaptest's profile mode, with mail delivered over LMTP. */
  profile?: boolean;
}

/** The passes run against each server: the default workload, with checkpoints unless the caller set them, then profile mode. */
export function imaptestPasses(extra: readonly string[]): ImaptestPass[] {
  const passes: ImaptestPass[] = [{ name: "default", args: [...extra] }];
  if (!extra.some((a) => a.startsWith("checkpoint="))) passes.push({ name: "checkpoints", args: [...extra, "checkpoint=2"] });
  // The caller's arguments tune the default workload; profile mode takes its settings from the profile.
  passes.push({ name: "profile", args: [], profile: true });
  return passes;
}

const PROFILE_USERS = 10;
/** imaptest's profile mode logs every user in with one password. */
const PROFILE_PASSWORD = "imaptest-profile-7741";

/** The users of the profile pass: imaptest names them by number (username_format), and LMTP wants an address. */
export function profileUsers(n = PROFILE_USERS): BenchUser[] {
  return Array.from({ length: n }, (_, i) => ({ name: `imtp${i + 1}@bench.test`, password: PROFILE_PASSWORD }));
}

/**
 * imaptest's sample profile, at a pace that fits a short run: 80% Thunderbird
 * and 20% Apple Mail clients. Apple Mail's MODSEQ is left out of its fetch:
 * neither server is asked for CONDSTORE here.
 */
export function profileConf(lmtpPort: number, users = PROFILE_USERS): string {
  return `lmtp_port = ${lmtpPort}
lmtp_max_parallel_count = ${users}
total_user_count = ${users}
rampup_time = 2s

user busy {
  username_format = imtp%n@bench.test
  count = 100%
  mail_inbox_delivery_interval = 2s
  mail_spam_delivery_interval = 5s
  mail_action_delay = 1s
  mail_action_repeat_delay = 1s
  mail_session_length = 1 min
  mail_send_interval = 5s
  mail_write_duration = 1s
  mail_inbox_reply_percentage = 50
  mail_inbox_delete_percentage = 20
  mail_inbox_move_percentage = 10
  mail_inbox_move_filter_percentage = 10
}

client Thunderbird {
  count = 80%
  connection_max_count = 5
  imap_idle = yes
  imap_fetch_immediate = UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type)]
  imap_fetch_manual = RFC822.SIZE BODY[]
  imap_status_interval = 30s
}

client AppleMail {
  count = 20%
  connection_max_count = 5
  imap_idle = yes
  imap_fetch_immediate = INTERNALDATE UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (date subject from to cc message-id in-reply-to references x-priority)]
  imap_fetch_manual = BODYSTRUCTURE BODY.PEEK[]
  imap_status_interval = 30s
}
`;
}

/** Runs one pass against a started server; profile mode gets its LMTP shim and profile file. Keeps imaptest's output in `dir`. */
async function runPass(
  bin: string,
  server: ServerUnderTest,
  pass: ImaptestPass,
  o: { common: string[]; dir: string; secs: number; clients: number; user: BenchUser; profiled: BenchUser[] },
): Promise<{ run: Run; file: string }> {
  let shim: LmtpToImap | undefined;
  let args = [...o.common, `user=${o.user.name}`, `pass=${o.user.password}`, `clients=${o.clients}`, ...pass.args];
  if (pass.profile) {
    shim = await LmtpToImap.start(server, o.profiled);
    const conf = path.join(o.dir, `${server.name}-profile.conf`);
    fs.writeFileSync(conf, profileConf(shim.port));
    args = [...o.common, "user=imtp%d@bench.test", `pass=${PROFILE_PASSWORD}`, `profile=${conf}`];
  }
  const began = Date.now();
  const { output, exit } = await runImaptest(bin, args, (o.secs + 60) * 1000).finally(() => shim?.close());
  const file = path.join(o.dir, `${server.name}-${pass.name}.out`);
  fs.writeFileSync(file, output);
  const run: Run = { ...parseImaptestOutput(output), exit, wallS: (Date.now() - began) / 1000 };
  if (shim) {
    run.delivered = shim.delivered;
    // A delivery the shim could not make is the server refusing an APPEND: an error like imaptest's own.
    run.errors.push(...shim.failures.map((f) => `Error: LMTP shim: ${f}`));
  }
  return { run, file };
}

export async function imaptestScenario(opts: BenchOptions, start: ServerFactory, servers: ServerName[]): Promise<ScenarioResult> {
  const t0 = Date.now();
  const secs = opts.durationS ?? (opts.quick ? 5 : 30);
  const clients = 10;
  const extra = opts.imaptestArgs ?? [];
  const passes = imaptestPasses(extra);
  const params = { secs, clients, users: 1, extraArgs: extra.join(" "), passes: passes.map((p) => p.name) };
  if (!opts.imaptest) {
    return { id: "imaptest", title: "imaptest state tracking", params, figures: [], notes: ["imaptest not run: give --imaptest BIN"], raw: {}, durationMs: 0 };
  }
  const bin = path.resolve(opts.imaptest);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "charon-imaptest-"));
  const mbox = path.join(dir, "messages.mbox");
  fs.writeFileSync(mbox, benchMbox(50));
  const users = makeUsers(1);
  const profiled = passes.some((p) => p.profile) ? profileUsers() : [];
  // raw[pass][server]
  const raw: Record<string, Record<string, Run>> = {};
  const notes: string[] = [];
  try {
    for (const name of servers.filter((s) => s !== "pluto")) {
      // Profile mode: up to 5 connections per user, and the LMTP shim's one.
      const server = await start(name, [...users, ...profiled], clients + 10 + profiled.length * 6);
      try {
        const common = [`host=${server.host}`, `port=${server.port}`, "ssl=any-cert", `mbox=${mbox}`, `secs=${secs}`];
        for (const pass of passes) {
          const { run: r, file } = await runPass(bin, server, pass, { common, dir, secs, clients, user: users[0]!, profiled });
          (raw[pass.name] ??= {})[name] = r;
          const extraText = pass.profile ? `${r.delivered ?? 0} messages delivered` : `${r.totals.ChkP ?? 0} checkpoints`;
          opts.log(`  ${name} (${pass.name}): ${r.commands} commands, ${extraText}, ${r.errors.length} errors, exit ${r.exit}${r.crash ? `, ${r.crash}` : ""}`);
          if (r.errors.length) notes.push(`${name} (${pass.name}): imaptest errors, e.g. ${r.errors.slice(0, 3).join(" | ")}`);
          if (r.stalls.length) notes.push(`${name} (${pass.name}): the server kept clients waiting over 15 s, e.g. ${r.stalls.slice(0, 3).join(" | ")}; output in ${file}`);
          if (r.forcedStop) notes.push(`${name} (${pass.name}): clients were still busy 30 s after the run's end and imaptest stopped them (${r.wallS.toFixed(0)} s in all); output in ${file}`);
          if (r.crash || r.exit !== "0") notes.push(`${name} (${pass.name}): imaptest exited ${r.exit}${r.crash ? ` (${r.crash})` : ""}; output in ${file}`);
        }
      } finally {
        await server.stop();
      }
    }
  } finally {
    // The outputs stay only when there is something to look at.
    if (notes.length === 0) fs.rmSync(dir, { recursive: true, force: true });
    else fs.rmSync(mbox, { force: true });
  }
  return { id: "imaptest", title: "imaptest state tracking: shared INBOX, checkpoints, profile mode (IDLE, LMTP)", params, figures: imaptestFigures(raw, secs), notes, raw, durationMs: Date.now() - t0 };
}

/** Errors per pass (target for charon: none, no client kept waiting, and imaptest ran to its end), commands/s of the first pass, what checkpoints compared. */
export function imaptestFigures(raw: Record<string, Record<string, Run>>, secs: number): Figure[] {
  // A run imaptest did not finish (a crash, or killed at the time limit) has no figures: it is not "0 errors".
  const finished = (r: Run) => !r.crash && r.exit === "0";
  const vals = (runs: Record<string, Run>, f: (r: Run) => number) => {
    const v: Partial<Record<ServerName, number>> = {};
    for (const n of Object.keys(runs) as ServerName[]) if (finished(runs[n]!)) v[n] = f(runs[n]!);
    return v;
  };
  const clean = (r: Run | undefined) => r !== undefined && finished(r) && r.errors.length === 0 && r.stalls.length === 0;
  const figures: Figure[] = [];
  for (const [pass, runs] of Object.entries(raw)) {
    const metric = pass === "default" ? "state-tracking errors" : `state-tracking errors (${pass})`;
    const errors = figure({ group: "imaptest", metric, unit: "lines", better: "lower", values: vals(runs, (r) => r.errors.length) });
    if (runs.charon) errors.target = { text: "no protocol or state errors, no client kept waiting", met: clean(runs.charon) };
    figures.push(errors);
    if (Object.values(runs).some((r) => r.stalls.length > 0)) {
      const waits = pass === "default" ? "clients kept waiting over 15 s" : `clients kept waiting over 15 s (${pass})`;
      figures.push(figure({ group: "imaptest", metric: waits, unit: "waits", better: "lower", values: vals(runs, (r) => r.stalls.length) }));
    }
    if (pass === "default") figures.push(figure({ group: "imaptest", metric: "commands/s", unit: "ops/s", better: "higher", values: vals(runs, (r) => r.commands / secs) }));
    if (Object.values(runs).some((r) => r.delivered !== undefined)) {
      figures.push(figure({ group: "imaptest", metric: `messages delivered (${pass})`, unit: "msgs", better: "higher", values: vals(runs, (r) => r.delivered ?? 0) }));
    }
    if (Object.values(runs).some((r) => (r.totals.ChkP ?? 0) > 0)) {
      // imaptest counts each client whose view it compared, at checkpoints without errors.
      figures.push(figure({ group: "imaptest", metric: "clients compared at checkpoints", unit: "ops", better: "higher", values: vals(runs, (r) => r.totals.ChkP ?? 0) }));
    }
  }
  return figures;
}
