// `npm run bench -- [--scenarios a,b] [--clients N[,N...]] [--users N]
// [--duration S] [--quick] [--pluto BIN --pluto-config FILE] [--imaptest BIN]`: runs the
// scenarios against charon's local cluster and Dovecot (and pluto when given)
// in the same run on loopback, prints a table, and writes a JSON file and one
// SVG chart per scenario under bench/results/.
import { execSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { CharonServer } from "./servers/charon";
import { DovecotServer, ensureDovecot } from "./dovecot";
import { PlutoServer } from "./servers/pluto";
import { repoRoot } from "./servers/proc";
import { BenchUser, ServerUnderTest } from "./servers/server";
import { BenchOptions, ScenarioResult, ServerFactory, ServerName } from "./scenarios/common";
import { mixedScenario } from "./scenarios/mixed";
import { plutoScenario } from "./scenarios/pluto-workload";
import { idleScenario } from "./scenarios/idle";
import { largeScenario } from "./scenarios/large";
import { replicationScenario } from "./scenarios/replication";
import { imaptestScenario } from "./scenarios/imaptest";
import { chartSvg } from "./svg";
import { summaryOfTargets, table } from "./report";

type Scenario = (o: BenchOptions, start: ServerFactory, servers: ServerName[]) => Promise<ScenarioResult>;

export const SCENARIOS: Record<string, Scenario> = {
  mixed: mixedScenario,
  pluto: plutoScenario,
  idle: idleScenario,
  large: largeScenario,
  replication: replicationScenario,
  imaptest: imaptestScenario,
};
const ALIASES: Record<string, string> = { "1": "mixed", "2": "pluto", "3": "idle", "4": "large", "5": "replication", "6": "imaptest" };

const USAGE = `usage: npm run bench -- [options]
  --scenarios LIST     comma list of ${Object.keys(SCENARIOS).join(",")} (or 1-6); default all
  --quick              every scenario scaled down, the whole run under 3 minutes
  --clients LIST       client counts for the mixed workload (default 1,10,50)
  --users N            users (pluto workload default 120, idle 100, mixed = most clients)
  --duration S         seconds per measured phase (default 20-30, quick 3-5)
  --idle-sessions N    idle sessions (default 5000, quick 300)
  --large-messages N   messages in the large mailbox (default 100000, quick 2000)
  --servers LIST       charon,dovecot (default both; pluto joins with --pluto)
  --pluto BIN --pluto-config FILE   also run pluto where a scenario says so
  --imaptest BIN       Dovecot's imaptest binary: run its state tracking against each server
  --imaptest-args "K=V ..."   extra imaptest arguments for the default and checkpoint passes (e.g. "msgs=200")
  --dovecot-scheme S   Dovecot passwd-file scheme (default SHA512-CRYPT)
  --max-minutes M      stop everything and exit 3 after M minutes (default 10 quick, 90 full)
  --out DIR            results directory (default bench/results)`;

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} expects a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

export function parseBenchArgs(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenarios: { type: "string" },
      quick: { type: "boolean", default: false },
      clients: { type: "string" },
      users: { type: "string" },
      duration: { type: "string" },
      "idle-sessions": { type: "string" },
      "large-messages": { type: "string" },
      servers: { type: "string" },
      pluto: { type: "string" },
      "pluto-config": { type: "string" },
      imaptest: { type: "string" },
      "imaptest-args": { type: "string" },
      "dovecot-scheme": { type: "string", default: "SHA512-CRYPT" },
      "max-minutes": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const scenarios = (values.scenarios ?? Object.keys(SCENARIOS).join(","))
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => ALIASES[s] ?? s);
  for (const s of scenarios) if (!SCENARIOS[s]) throw new Error(`unknown scenario ${JSON.stringify(s)}; known: ${Object.keys(SCENARIOS).join(", ")}`);
  const servers = (values.servers ?? "charon,dovecot").split(",").map((s) => s.trim()) as ServerName[];
  for (const s of servers) if (s !== "charon" && s !== "dovecot") throw new Error(`--servers: unknown server ${JSON.stringify(s)} (pluto joins with --pluto)`);
  if (!!values.pluto !== !!values["pluto-config"]) throw new Error("--pluto and --pluto-config go together");
  if (values.pluto) servers.push("pluto");
  if (values["imaptest-args"] !== undefined && !values.imaptest) throw new Error("--imaptest-args needs --imaptest");
  const clients = values.clients?.split(",").map((c) => positiveInt("clients", c) as number);
  const duration = values.duration !== undefined ? Number(values.duration) : undefined;
  if (duration !== undefined && !(duration > 0)) throw new Error(`--duration expects seconds > 0`);
  return {
    help: values.help ?? false,
    scenarios,
    servers,
    quick: values.quick ?? false,
    clients,
    users: positiveInt("users", values.users),
    durationS: duration,
    idleSessions: positiveInt("idle-sessions", values["idle-sessions"]),
    largeMessages: positiveInt("large-messages", values["large-messages"]),
    pluto: values.pluto ? { bin: values.pluto, config: values["pluto-config"] as string } : undefined,
    imaptest: values.imaptest,
    imaptestArgs: values["imaptest-args"]?.split(/\s+/).filter(Boolean),
    dovecotScheme: values["dovecot-scheme"] ?? "SHA512-CRYPT",
    maxMinutes: values["max-minutes"] !== undefined ? Number(values["max-minutes"]) : undefined,
    out: values.out,
  };
}

function machineFacts(): Record<string, unknown> {
  const sh = (cmd: string) => {
    try {
      return execSync(cmd, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return undefined;
    }
  };
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    dovecot: spawnSync("/usr/sbin/dovecot", ["--version"], { encoding: "utf8" }).stdout?.trim(),
    charonCommit: sh(`git -C ${JSON.stringify(repoRoot())} rev-parse --short HEAD`),
    kernel: os.release(),
    openFileLimit: sh("sh -c 'ulimit -n'"),
  };
}

export async function main(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parseBenchArgs>;
  try {
    args = parseBenchArgs(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 64;
  }
  if (args.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
  const opts: BenchOptions = { ...args, log };
  const live = new Set<ServerUnderTest>();
  const stopAll = async () => {
    for (const s of [...live]) {
      live.delete(s);
      await s.stop().catch((e: Error) => log(`stopping ${s.name}: ${e.message}`));
    }
  };
  // Every run ends by itself: a watchdog stops the servers we started and exits.
  const maxMs = (args.maxMinutes ?? (args.quick ? 10 : 90)) * 60_000;
  const watchdog = setTimeout(() => {
    log(`time limit of ${maxMs / 60_000} minutes reached: stopping the servers and exiting`);
    void stopAll().finally(() => process.exit(3));
  }, maxMs);
  watchdog.unref();
  const onSignal = (sig: string) => {
    log(`${sig}: stopping the servers`);
    void stopAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", () => onSignal("SIGINT"));
  process.once("SIGTERM", () => onSignal("SIGTERM"));

  if (args.servers.includes("dovecot")) ensureDovecot();
  const start: ServerFactory = async (name, users: BenchUser[], maxSessions) => {
    // Let the previous server's writes reach the disk first, so that its
    // writeback does not land on the next server's fsyncs.
    spawnSync("sync");
    await new Promise((r) => setTimeout(r, 1000));
    let s: ServerUnderTest;
    if (name === "charon") s = await CharonServer.start(users, { log });
    else if (name === "dovecot") s = await DovecotServer.start(users, { log, scheme: args.dovecotScheme, maxSessions });
    else if (args.pluto) s = await PlutoServer.start(args.pluto.bin, args.pluto.config, users, log);
    else throw new Error("pluto was not given");
    live.add(s);
    const stop = s.stop.bind(s);
    s.stop = async () => {
      live.delete(s);
      await stop();
    };
    return s;
  };

  const t0 = Date.now();
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const outDir = path.resolve(args.out ?? path.join(repoRoot(), "bench", "results"));
  fs.mkdirSync(outDir, { recursive: true });
  const results: ScenarioResult[] = [];
  const failures: string[] = [];
  try {
    for (const id of args.scenarios) {
      log(`scenario ${id}`);
      try {
        const r = await SCENARIOS[id](opts, start, args.servers);
        results.push(r);
        const svgFile = path.join(outDir, `${stamp}-${id}.svg`);
        fs.writeFileSync(svgFile, chartSvg(r, args.servers));
        log(`scenario ${id} done in ${(r.durationMs / 1000).toFixed(1)} s; chart ${svgFile}`);
      } catch (e) {
        failures.push(`${id}: ${(e as Error).stack ?? e}`);
        log(`scenario ${id} FAILED: ${(e as Error).message}`);
      }
    }
  } finally {
    await stopAll();
    clearTimeout(watchdog);
  }
  const totalS = (Date.now() - t0) / 1000;
  const targets = summaryOfTargets(results);
  const jsonFile = path.join(outDir, `${stamp}.json`);
  fs.writeFileSync(
    jsonFile,
    JSON.stringify({ startedAt: new Date(t0).toISOString(), totalSeconds: totalS, options: { ...args }, machine: machineFacts(), targets, failures, results }, null, 2),
  );
  process.stdout.write("\n" + table(results, args.servers) + "\n\n");
  for (const r of results) for (const n of r.notes) process.stdout.write(`note (${r.id}): ${n}\n`);
  for (const f of failures) process.stdout.write(`FAILED scenario ${f.split("\n")[0]}\n`);
  process.stdout.write(`\ntargets: ${targets.met} met, ${targets.notMet} not met, ${targets.notJudged} not judged in this run\n`);
  process.stdout.write(`total ${totalS.toFixed(1)} s; results ${jsonFile}; charts ${outDir}/${stamp}-*.svg\n`);
  return failures.length ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`${e.stack ?? e}\n`);
      process.exit(1);
    },
  );
}
