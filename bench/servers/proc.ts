// Process helpers for the servers under test: free loopback ports, process
// trees and their memory from /proc, and stopping only the PIDs we started.
import * as fs from "node:fs";
import * as net from "node:net";
import { spawnSync } from "node:child_process";
import * as path from "node:path";

export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on host:port now. */
export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Parent PID of a process, or undefined when it is gone. */
function ppidOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
    // pid (comm) state ppid ... ; comm may hold spaces and parentheses.
    const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(after[1]);
  } catch {
    return undefined;
  }
}

/** The PID and all its descendants, from /proc. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const pp = ppidOf(pid);
    if (pp === undefined) continue;
    let l = children.get(pp);
    if (!l) children.set(pp, (l = []));
    l.push(pid);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop() as number;
    if (!isAlive(p)) continue;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/** VmRSS of a process in bytes (0 when gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "latin1"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Proportional set size in bytes (shared pages divided among their users); 0 when unknown. */
export function pssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "latin1"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function commName(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "latin1").trim();
  } catch {
    return "?";
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Sends SIGTERM to each given PID, waits up to graceMs, then SIGKILLs the ones still alive. */
export async function stopPids(pids: number[], graceMs = 10_000): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(isAlive)) await sleep(50);
  for (const pid of pids) {
    if (!isAlive(pid)) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

/** Runs scripts/ensure-debian-packages.sh with COMMAND:PACKAGE specs. */
export function ensureDebianPackages(repoRoot: string, specs: string[]): void {
  const script = path.join(repoRoot, "scripts", "ensure-debian-packages.sh");
  const r = spawnSync("sh", [script, ...specs], { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`${script} ${specs.join(" ")} failed with exit ${r.status}`);
}

/** The repository root (bench/ runs from dist/bench or from bench/ under ts). */
export function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "scripts"))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}
