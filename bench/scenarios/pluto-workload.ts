// Scenario 2: the pluto write workload (OPODIS 2017). Parallel sessions, each
// for a random user: LOGIN, 15 to 40 random commands from CREATE, DELETE,
// APPEND, SELECT, STORE and EXPUNGE (messages of 1 to 33 KB), then SELECT
// INBOX and LOGOUT. Commands are sent one at a time, as pluto's own
// generator does, and LOGIN arguments are atoms (pluto needs that).
import { mulberry32 } from "../../src/util/mulberry32";
import { CpuMeter, LatencySummary, Recorder, randInt, summarize } from "../client/stats";
import { CommandResult, ImapConnection } from "../client/connection";
import { MessagePool } from "../client/messages";
import { BenchUser, makeUsers, ServerUnderTest } from "../servers/server";
import { BenchOptions, cpuSecondsOf, Figure, figure, login, ScenarioResult, ServerFactory, ServerName, sessionLoop } from "./common";

// Messages of 1 to 33 KB, drawn from a fixed pool (the same for every server).
const POOL = new MessagePool(22, 256, 1024, 33 * 1024);
const KINDS = ["CREATE", "DELETE", "APPEND", "SELECT", "STORE", "EXPUNGE"] as const;
const REPORTED = ["LOGIN", ...KINDS, "LOGOUT"];

interface PlutoRun {
  /** Each user's first LOGIN, before the measured phase (the password hash is verified with a cold cache). */
  firstLogin: ReturnType<Recorder["summary"]>;
  sessions: number;
  wallS: number;
  perCommand: ReturnType<Recorder["summary"]>;
  /** TCP connect to greeting, TLS included, of the measured sessions. */
  connect: LatencySummary;
  errors: string[];
  generatorCores: number;
  serverCores: number;
}

function worker(server: ServerUnderTest, w: number, deadline: number, rec: Recorder, boxes: Map<string, Set<string>>): Promise<number> {
  const r = mulberry32(7000 + w);
  let boxSeq = 0;
  const note = (name: string, res: CommandResult) => rec.record(name, res.latencyMs, res.status === "OK", res.text);
  const session = async (c: ImapConnection, user: BenchUser) => {
    let mine = boxes.get(user.name);
    if (!mine) boxes.set(user.name, (mine = new Set()));
    let selected: string | undefined;
    let exists = 0;
    const track = (res: CommandResult) => {
      for (const u of res.untagged) {
        const m = /^\* (\d+) EXISTS/i.exec(u.text);
        if (m) exists = Number(m[1]);
        const x = /^\* (\d+) EXPUNGE/i.exec(u.text);
        if (x) exists = Math.max(0, exists - 1);
      }
    };
    const n = randInt(r, 15, 40);
    for (let i = 0; i < n; i++) {
      let kind: (typeof KINDS)[number] = KINDS[randInt(r, 0, KINDS.length - 1)];
      // Keep every command meaningful: nothing to delete yet means create; STORE and EXPUNGE need a selected mailbox.
      if (kind === "DELETE" && mine.size === 0) kind = "CREATE";
      if ((kind === "STORE" || kind === "EXPUNGE") && !selected) kind = "SELECT";
      if (kind === "STORE" && exists === 0) kind = "APPEND";
      let res: CommandResult;
      switch (kind) {
        case "CREATE": {
          const name = `box-w${w}-${boxSeq++}`;
          res = await c.command(`CREATE ${name}`);
          if (res.status === "OK") mine.add(name);
          break;
        }
        case "DELETE": {
          const list = [...mine].filter((b) => b !== selected);
          if (list.length === 0) {
            i--;
            continue;
          }
          const name = list[randInt(r, 0, list.length - 1)];
          mine.delete(name);
          res = await c.command(`DELETE ${name}`);
          break;
        }
        case "APPEND": {
          const target = selected ?? "INBOX";
          res = await c.command([`APPEND ${target} `, POOL.pick(randInt(r, 0, POOL.size - 1))]);
          if (res.status === "OK" && target === selected) exists = Math.max(exists, exists + (res.untagged.some((u) => /EXISTS/i.test(u.text)) ? 0 : 1));
          break;
        }
        case "SELECT": {
          const choices = ["INBOX", ...mine];
          const name = choices[randInt(r, 0, choices.length - 1)];
          exists = 0;
          res = await c.command(`SELECT ${name}`);
          selected = res.status === "OK" ? name : undefined;
          break;
        }
        case "STORE":
          res = await c.command(`STORE ${randInt(r, 1, exists)} +FLAGS (\\Deleted)`);
          break;
        case "EXPUNGE":
          res = await c.command("EXPUNGE");
          break;
      }
      track(res);
      note(kind, res);
    }
    const sel = await c.command("SELECT INBOX");
    note("SELECT", sel);
    note("LOGOUT", await c.command("LOGOUT"));
  };
  return sessionLoop(server, deadline, rec, () => server.users[randInt(r, 0, server.users.length - 1)], session);
}

/**
 * Logs every user in once, `parallel` at a time. Both servers cache a verified
 * password, so a user's first LOGIN pays for the stored hash and later ones do
 * not. Measured on their own, the cold logins are a fixed count and not a share
 * of the LOGIN tail that depends on how long the run is.
 */
async function firstLogins(server: ServerUnderTest, parallel: number, rec: Recorder): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < server.users.length) {
        const user = server.users[next++];
        try {
          const c = await login(server, user, rec);
          await c.command("LOGOUT").finally(() => c.close());
        } catch (e) {
          rec.fail("LOGIN", (e as Error).message);
        }
      }
    }),
  );
}

export async function plutoScenario(opts: BenchOptions, start: ServerFactory, servers: ServerName[]): Promise<ScenarioResult> {
  const t0 = Date.now();
  const durationS = opts.durationS ?? (opts.quick ? 5 : 30);
  const parallel = 20;
  const users = makeUsers(opts.users ?? 120);
  const raw: Record<string, PlutoRun> = {};
  const notes: string[] = [];
  for (const name of servers) {
    const server = await start(name, users, parallel + 20);
    try {
      const cold = new Recorder();
      await firstLogins(server, parallel, cold);
      const rec = new Recorder();
      const pids = server.allPids();
      const cpu0 = cpuSecondsOf(pids);
      const meter = new CpuMeter();
      const start = Date.now();
      const deadline = start + durationS * 1000;
      const boxes = new Map<string, Set<string>>();
      const counts = await Promise.all(Array.from({ length: parallel }, (_, w) => worker(server, w, deadline, rec, boxes)));
      const wallS = (Date.now() - start) / 1000;
      raw[name] = {
        firstLogin: cold.summary(),
        sessions: counts.reduce((a, b) => a + b, 0),
        wallS,
        perCommand: rec.summary(),
        connect: summarize(rec.connects),
        errors: rec.errorExamples,
        generatorCores: meter.stop().cores,
        serverCores: (cpuSecondsOf(pids) - cpu0) / wallS,
      };
      opts.log(`  ${name}: ${raw[name].sessions} sessions in ${wallS.toFixed(1)} s, generator ${raw[name].generatorCores.toFixed(2)} cores`);
      if (rec.errorExamples.length) notes.push(`${name}: failed commands (counted in errors), e.g. ${rec.errorExamples.slice(0, 3).join(" | ")}`);
    } finally {
      await server.stop();
    }
  }
  const figures: Figure[] = [];
  const vals = (f: (p: PlutoRun) => number) => {
    const v: Partial<Record<ServerName, number>> = {};
    for (const n of Object.keys(raw) as ServerName[]) v[n] = f(raw[n]);
    return v;
  };
  figures.push(figure({ group: "sessions", metric: "sessions/s", unit: "ops/s", better: "higher", values: vals((p) => p.sessions / p.wallS) }));
  type Row = [name: string, of: (p: PlutoRun) => LatencySummary | undefined];
  const rows: Row[] = [["first LOGIN", (p) => p.firstLogin.LOGIN], ...REPORTED.map((cmd): Row => [cmd, (p) => p.perCommand[cmd]])];
  for (const [group, of] of rows) {
    for (const q of ["p50", "p99"] as const) {
      const f = figure({ group, metric: `${group} ${q}`, unit: "ms", better: "lower", values: vals((p) => of(p)?.[q] ?? NaN) });
      const judged: boolean[] = [];
      if (f.ratio !== undefined) judged.push(f.ratio <= 1);
      if (f.ratioPluto !== undefined) judged.push(f.ratioPluto <= 0.5);
      if (judged.length) f.target = { text: raw.pluto ? "<= Dovecot's and <= 0.5x pluto's" : "<= Dovecot's (pluto not run)", met: judged.every(Boolean) };
      figures.push(f);
    }
    figures.push(figure({ group, metric: `${group} count`, unit: "ops", better: "higher", values: vals((p) => of(p)?.count ?? 0) }));
  }
  // Not a command, so not judged: the wait before each session's LOGIN.
  for (const q of ["p50", "p99"] as const) {
    figures.push(figure({ group: "connect", metric: `connect (TCP, TLS, greeting) ${q}`, unit: "ms", better: "lower", values: vals((p) => p.connect[q]) }));
  }
  figures.push(figure({ group: "load", metric: "generator CPU", unit: "cores", better: "lower", values: vals((p) => p.generatorCores) }));
  figures.push(figure({ group: "load", metric: "server CPU", unit: "cores", better: "lower", values: vals((p) => p.serverCores) }));
  if (!raw.pluto) notes.push("pluto not run: give --pluto BIN --pluto-config FILE");
  return { id: "pluto", title: "pluto write workload (120 users, 20 parallel sessions)", params: { durationS, parallel, users: users.length }, figures, notes, raw, durationMs: Date.now() - t0 };
}
