// pluto (github.com/go-pluto/pluto), when a binary and its config are given:
// starts the storage node, every worker of the config and the distributor as
// `BIN -config FILE -storage|-worker NAME|-distributor` (pluto's main.go),
// with the config's directory as working directory, and reads the users from
// the distributor's AuthFile. No pluto binary exists on this machine: the
// tests run this launcher against a stand-in (pluto-standin.ts) that follows
// the rules below, not against pluto itself.
import { spawn, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { formatHostPort, parseHostPort } from "../../src/config/schema";
import { BenchUser, ServerUnderTest } from "./server";
import { canConnect, isAlive, processTree, sleep, stopPids } from "./proc";

export interface PlutoConfigFacts {
  publicAddr: { host: string; port: number };
  /** The names `-worker` takes: a worker table's `Name`, else its key (pluto keys its workers by Name). */
  workers: string[];
  /** User IDs (line numbers of the AuthFile, from 1) that some worker serves; empty when the config gives none. */
  userRanges: Array<[start: number, end: number]>;
  authFile?: string;
  separator: string;
  /** The [Distributor] table's pairs as written. */
  distributor: Record<string, string>;
}

/**
 * Reads what the bench needs from pluto's TOML config: tables and simple
 * `key = "value"` or `key = 123` pairs only. The distributor's address is
 * `PublicMailAddr` in later pluto versions and `PublicIP` (or `IP`) with `Port`
 * in earlier ones.
 */
export function readPlutoConfig(text: string): PlutoConfigFacts {
  let table = "";
  const workers = new Map<string, { name?: string; start?: number; end?: number }>();
  /** The worker whose own table ([Workers.KEY], not a subtable) is open. */
  let worker: { name?: string; start?: number; end?: number } | undefined;
  const distributor: Record<string, string> = {};
  let authFile: string | undefined;
  let separator = ";";
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const t = /^\[([^\]]+)\]$/.exec(line);
    if (t) {
      table = t[1].trim();
      const key = /^Workers\.([^.]+)$/.exec(table)?.[1];
      worker = key === undefined ? undefined : (workers.get(key) ?? workers.set(key, {}).get(key));
      continue;
    }
    const kv = /^(\w+)\s*=\s*(?:"([^"]*)"|(\d+))/.exec(line);
    if (!kv) continue;
    const [, key, str, num] = kv;
    const value = str ?? num;
    if (table === "Distributor") distributor[key] = value;
    if (table === "Distributor.AuthFile" && key === "File") authFile = value;
    if (table === "Distributor.AuthFile" && key === "Separator") separator = value;
    if (worker && key === "Name") worker.name = value;
    if (worker && key === "UserStart") worker.start = Number(value);
    if (worker && key === "UserEnd") worker.end = Number(value);
  }
  const host = distributor.PublicIP ?? distributor.IP;
  const addr = distributor.PublicMailAddr ?? (host && distributor.Port ? formatHostPort({ host, port: Number(distributor.Port) }) : undefined);
  if (!addr) throw new Error("pluto config: no [Distributor] PublicMailAddr (or PublicIP and Port)");
  const publicAddr = parseHostPort(addr, false);
  if (typeof publicAddr === "string") throw new Error(`pluto config: [Distributor] address: ${publicAddr}`);
  const userRanges: Array<[number, number]> = [];
  for (const w of workers.values()) if (w.start !== undefined && w.end !== undefined) userRanges.push([w.start, w.end]);
  return {
    publicAddr,
    workers: [...workers].map(([key, w]) => w.name ?? key),
    userRanges,
    authFile,
    separator,
    distributor,
  };
}

/**
 * The directory pluto resolves the config's relative paths against (config.LoadConfig):
 * the working directory when its name ends in "pluto", else its parent.
 */
export function plutoRoot(cwd: string): string {
  const abs = path.resolve(cwd);
  return abs.endsWith("pluto") ? abs : path.dirname(abs);
}

/** The AuthFile's users that some worker serves (pluto numbers them by line, from 1). */
export function readPlutoUsers(text: string, facts: Pick<PlutoConfigFacts, "separator" | "userRanges">): BenchUser[] {
  const users: BenchUser[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const id = i + 1;
    if (facts.userRanges.length && !facts.userRanges.some(([s, e]) => id >= s && id <= e)) return;
    const [name, password] = line.split(facts.separator);
    users.push({ name: name.trim(), password: (password ?? "").trim() });
  });
  return users;
}

export class PlutoServer implements ServerUnderTest {
  readonly name = "pluto" as const;
  readonly unquotedLogin = true;

  private constructor(private readonly children: ChildProcess[], readonly host: string, readonly port: number, readonly users: BenchUser[]) {}

  static async start(bin: string, config: string, fallbackUsers: BenchUser[], log: (s: string) => void): Promise<PlutoServer> {
    const conf = path.resolve(config);
    const cwd = path.dirname(conf);
    const facts = readPlutoConfig(fs.readFileSync(conf, "utf8"));
    if (!["127.0.0.1", "localhost", "::1"].includes(facts.publicAddr.host)) throw new Error(`pluto PublicMailAddr ${facts.publicAddr.host} is not loopback: the bench only targets loopback`);
    const users = facts.authFile ? readPlutoUsers(fs.readFileSync(path.resolve(plutoRoot(cwd), facts.authFile), "utf8"), facts) : fallbackUsers;
    if (users.length === 0) throw new Error(`pluto config: no user of ${facts.authFile} is served by a worker`);
    const children: ChildProcess[] = [];
    const out = fs.openSync(path.join(cwd, "pluto-bench.log"), "a");
    const run = (args: string[]) => {
      const c = spawn(path.resolve(bin), ["-config", conf, ...args], { cwd, stdio: ["ignore", out, out] });
      children.push(c);
      return c;
    };
    run(["-storage"]);
    await sleep(1000);
    for (const w of facts.workers) run(["-worker", w]);
    await sleep(1000);
    run(["-distributor"]);
    fs.closeSync(out);
    const server = new PlutoServer(children, facts.publicAddr.host, facts.publicAddr.port, users);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (await canConnect(server.host, server.port)) {
        log(`pluto ${children.map((c) => c.pid).join(",")} at ${server.host}:${server.port}, ${users.length} users`);
        return server;
      }
      if (children.some((c) => c.exitCode !== null)) break;
      await sleep(200);
    }
    await server.stop();
    throw new Error(`pluto did not listen on ${server.host}:${server.port} (see ${cwd}/pluto-bench.log)`);
  }

  memoryProcesses(): { pids: number[]; what: string } {
    return { pids: this.allPids(), what: "every pluto process" };
  }

  metricsUrls(): string[] {
    return [];
  }

  allPids(): number[] {
    return this.children.flatMap((c) => (c.pid && isAlive(c.pid) ? processTree(c.pid) : []));
  }

  async stop(): Promise<void> {
    // Distributor first, storage last; a child that has exited is not signalled (its PID may be another's by now).
    for (const c of [...this.children].reverse()) if (c.pid && c.exitCode === null && c.signalCode === null) await stopPids([c.pid], 10_000);
  }
}
