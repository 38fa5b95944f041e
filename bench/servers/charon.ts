// Starts `charon dev` (the local cluster: distributor, workers, storage) from
// the built CLI and parses its node and ready lines.
import { spawn, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BenchUser, ServerUnderTest } from "./server";
import { processTree, repoRoot, stopPids } from "./proc";

export interface CharonNode {
  name: string;
  role: string;
  pid: number;
  admin?: string;
}

/** Parses a `node NAME role=ROLE pid=PID admin=URL restart="..."` line. */
export function parseNodeLine(line: string): CharonNode | undefined {
  const m = /^node (\S+) role=(\S+) pid=(\d+)(?: admin=(\S+))?/.exec(line);
  if (!m) return undefined;
  return { name: m[1], role: m[2], pid: Number(m[3]), admin: m[4] && m[4] !== "none" ? m[4] : undefined };
}

export function parseReadyLine(line: string): { host: string; port: number } | undefined {
  const m = /^ready imaps=(\S+):(\d+)\b/.exec(line);
  if (!m) return undefined;
  return { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

export class CharonServer implements ServerUnderTest {
  readonly name = "charon" as const;
  readonly unquotedLogin = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly host: string,
    readonly port: number,
    readonly users: BenchUser[],
    readonly nodes: CharonNode[],
    private readonly dataDir: string,
    private readonly keepData: boolean,
  ) {}

  static async start(users: BenchUser[], opts: { log: (s: string) => void; keepData?: boolean; readyTimeoutMs?: number }): Promise<CharonServer> {
    const root = repoRoot();
    const cli = path.join(root, "dist", "src", "cli", "main.js");
    if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first (npm run bench does)`);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "charon-bench-"));
    const args = [cli, "dev", "--data", dataDir, "--imaps-port", "0", "--imap-port", "0", "--log-level", "warn"];
    for (const u of users) args.push("--user", `${u.name}:${u.password}`);
    const errLog = fs.openSync(path.join(dataDir, "charon-dev.stderr.log"), "a");
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", errLog] });
    fs.closeSync(errLog);
    const nodes: CharonNode[] = [];
    const timeoutMs = opts.readyTimeoutMs ?? 120_000;
    const ready = await new Promise<{ host: string; port: number }>((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(() => reject(new Error(`charon dev printed no ready line within ${timeoutMs} ms (log: ${dataDir}/charon-dev.stderr.log)`)), timeoutMs);
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`charon dev exited with ${code} before ready (log: ${dataDir}/charon-dev.stderr.log)`));
      });
      child.stdout?.on("data", (d: Buffer) => {
        buf += d.toString("utf8");
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          const n = parseNodeLine(line);
          if (n) nodes.push(n);
          const r = parseReadyLine(line);
          if (r) {
            clearTimeout(timer);
            resolve(r);
          }
        }
      });
    }).catch(async (e: Error) => {
      if (child.pid) await stopPids([child.pid, ...nodes.map((n) => n.pid)], 5000);
      throw e;
    });
    child.stdout?.resume();
    child.removeAllListeners("exit");
    opts.log(`charon dev pid=${child.pid} ${ready.host}:${ready.port} nodes: ${nodes.map((n) => `${n.name}/${n.role}/${n.pid}`).join(" ") || "(single process)"}`);
    return new CharonServer(child, ready.host, ready.port, users, nodes, dataDir, opts.keepData ?? false);
  }

  memoryProcesses(): { pids: number[]; what: string } {
    const dist = this.nodes.find((n) => n.role === "distributor");
    if (dist) return { pids: [dist.pid], what: `distributor process ${dist.name} (pid ${dist.pid})` };
    return { pids: this.child.pid ? processTree(this.child.pid) : [], what: "charon dev process tree (no node lines printed)" };
  }

  metricsUrls(): string[] {
    return this.nodes.filter((n) => n.admin).map((n) => `${n.admin}/metrics`);
  }

  allPids(): number[] {
    return this.child.pid ? processTree(this.child.pid) : [];
  }

  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid) {
      const tree = processTree(pid);
      await stopPids([pid], 15_000);
      // Whatever of the tree outlived its supervisor was started by it for us.
      await stopPids(tree.filter((p) => p !== pid), 5_000);
    }
    if (!this.keepData) await fs.promises.rm(this.dataDir, { recursive: true, force: true });
  }
}
