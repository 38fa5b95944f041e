// pluto (github.com/go-pluto/pluto), when a binary and its config are given:
// starts the storage node, every worker of the config and the distributor as
// `BIN -config FILE -storage|-worker NAME|-distributor`, with the config's
// directory as working directory (its paths are relative to it), and reads
// the users from the distributor's AuthFile. Untested here: no pluto binary
// is available on this machine.
import { spawn, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { BenchUser, ServerUnderTest } from "./server";
import { isAlive, processTree, sleep, stopPids } from "./proc";

export interface PlutoConfigFacts {
  publicAddr: { host: string; port: number };
  workers: string[];
  authFile?: string;
  separator: string;
}

/** Reads what the bench needs from pluto's TOML config (tables and simple key = "value" pairs only). */
export function readPlutoConfig(text: string): PlutoConfigFacts {
  let table = "";
  const workers: string[] = [];
  let addr: string | undefined;
  let authFile: string | undefined;
  let separator = ";";
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const t = /^\[([^\]]+)\]$/.exec(line);
    if (t) {
      table = t[1].trim();
      const w = /^Workers\.([^.]+)$/.exec(table);
      if (w) workers.push(w[1]);
      continue;
    }
    const kv = /^(\w+)\s*=\s*"([^"]*)"/.exec(line);
    if (!kv) continue;
    if (table === "Distributor" && kv[1] === "PublicMailAddr") addr = kv[2];
    if (table === "Distributor.AuthFile" && kv[1] === "File") authFile = kv[2];
    if (table === "Distributor.AuthFile" && kv[1] === "Separator") separator = kv[2];
  }
  if (!addr) throw new Error("pluto config: no [Distributor] PublicMailAddr");
  const i = addr.lastIndexOf(":");
  return { publicAddr: { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) }, workers, authFile, separator };
}

export class PlutoServer implements ServerUnderTest {
  readonly name = "pluto" as const;
  readonly unquotedLogin = true;

  private constructor(private readonly children: ChildProcess[], readonly host: string, readonly port: number, readonly users: BenchUser[]) {}

  static async start(bin: string, config: string, fallbackUsers: BenchUser[], log: (s: string) => void): Promise<PlutoServer> {
    const conf = path.resolve(config);
    const cwd = path.dirname(conf);
    const facts = readPlutoConfig(fs.readFileSync(conf, "utf8"));
    if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(facts.publicAddr.host)) throw new Error(`pluto PublicMailAddr ${facts.publicAddr.host} is not loopback: the bench only targets loopback`);
    let users = fallbackUsers;
    if (facts.authFile) {
      const lines = fs.readFileSync(path.resolve(cwd, facts.authFile), "utf8").split("\n").filter((l) => l.trim());
      users = lines.map((l) => {
        const [name, password] = l.split(facts.separator);
        return { name: name.trim(), password: (password ?? "").trim() };
      });
    }
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
    // Distributor first, storage last.
    for (const c of [...this.children].reverse()) if (c.pid) await stopPids([c.pid], 10_000);
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: host.replace(/^\[|\]$/g, ""), port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
