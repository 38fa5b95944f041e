// Cluster nodes as child processes: `charon dev` starts each node with the same
// command an operator would type (`charon ROLE --config FILE --name NAME`),
// waits for its ready line, and stops only the processes it started.
import { spawn, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";

export interface NodeProcess {
  readonly name: string;
  readonly role: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The key=value pairs of the node's ready line (internal, admin, imaps, imap). */
  readonly ready: Readonly<Record<string, string>>;
  /** The command line that starts this node again on its own. */
  readonly command: readonly string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The built CLI: this file's sibling when running from dist/, the build output when running from the sources (tests). */
export function cliEntry(): string {
  if (__filename.endsWith(".ts")) return path.resolve(__dirname, "..", "..", "dist", "src", "cli", "main.js");
  return path.join(__dirname, "main.js");
}

/** Marks a child that should exit when its supervisor goes away (its stdin closes). */
export const SUPERVISED_ENV = "CHARON_DEV_SUPERVISED";

/**
 * Memory settings for the distributor, which holds every idle session.
 * - glibc: every cold LOGIN runs scrypt (16 MiB) on a libuv thread; with
 *   glibc's dynamic mmap threshold the first free raises the threshold above
 *   16 MiB, so later hashes come from that thread's arena and stay resident
 *   after they are freed: about 16 MiB per thread-pool thread, 64 MiB in all.
 *   A fixed threshold keeps such blocks mmap'd, so they go back to the kernel
 *   when freed. It is 16 KiB rather than glibc's initial 128 KiB so that
 *   OpenSSL's record buffers (just over 16 KiB, allocated per read and
 *   released while a connection is idle) are mmap'd too instead of leaving
 *   holes in the heap between long-lived session objects: about 1.5 KB less
 *   per idle session at 5,000 sessions, for an mmap/munmap pair per TLS record
 *   read.
 *   No top pad (glibc takes 128 KiB extra on each heap extension and keeps as
 *   much on each trim): measured, not derived; at 5,000 idle sessions the
 *   distributor's [heap] mapping held 88 MB instead of 103 MB, about 2.3 KB
 *   less per session, with no throughput cost seen in the mixed workload.
 * - V8: the young generation grows to 3 × 16 MiB under a burst of logins and
 *   stays there; the distributor's garbage is short-lived relay buffers and
 *   handshake state, so a 1 MiB semi-space costs little and saves about
 *   5 KB per session at 5,000 sessions (bench/, idle scenario).
 * Any value already in the environment wins. deploy/k8s/base/distributor.yaml sets the same.
 */
export const DISTRIBUTOR_ENV: Readonly<Record<string, string>> = Object.freeze({
  MALLOC_MMAP_THRESHOLD_: "16384",
  MALLOC_TOP_PAD_: "0",
  NODE_OPTIONS: "--max-semi-space-size=1",
});

/** Quotes an argument for a POSIX shell only when it needs it. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function parseReady(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of line.split(" ").slice(2)) {
    const eq = kv.indexOf("=");
    if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

export interface SpawnNodeOptions {
  role: string;
  name: string;
  configFile: string;
  logLevel?: string;
  readyTimeoutMs?: number;
  /** Added to this process's environment (CHARON_* overrides for this node only, say). */
  env?: NodeJS.ProcessEnv;
  /** Where the node's log lines go (default: this process's stderr). */
  stderr?: "inherit" | "pipe";
  /** Options for node itself, before the script (they show in the restart command too). */
  nodeFlags?: readonly string[];
}

/**
 * V8's background threads per node (parallel scavenges, concurrent marking,
 * compilation) when `nodes` processes share this host. Node starts 4 in each;
 * on a 2-core machine running a whole dev cluster that is 16 such threads
 * queueing for the same cores as the event loops. One each (cores / nodes,
 * at least 1) cut the mixed bench's p99 at 10 clients in four alternating
 * pairs: STORE 12.9-13.3 against 13.6-16.4 ms, FETCH 9.2-10.1 against
 * 10.0-10.7, with no less throughput. On a big host this stays at Node's 4.
 * A size already in NODE_OPTIONS wins, as for DISTRIBUTOR_ENV (a flag on the
 * command line would override it).
 */
export function sharedHostNodeFlags(nodes: number, cores = availableParallelism(), env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.NODE_OPTIONS?.includes("--v8-pool-size")) return [];
  return [`--v8-pool-size=${Math.min(4, Math.max(1, Math.floor(cores / nodes)))}`];
}

/** Starts `charon ROLE --config FILE --name NAME` and resolves once it printed its ready line. */
export function spawnNode(opts: SpawnNodeOptions): Promise<NodeProcess> {
  const command = [process.execPath, ...(opts.nodeFlags ?? []), cliEntry(), opts.role, "--config", opts.configFile, "--name", opts.name];
  if (opts.logLevel) command.push("--log-level", opts.logLevel);
  // stdin is a pipe only so the child notices when the supervisor dies, even by kill -9.
  const child = spawn(command[0], command.slice(1), {
    stdio: ["pipe", "pipe", opts.stderr ?? "inherit"],
    env: { ...(opts.role === "distributor" ? DISTRIBUTOR_ENV : {}), ...process.env, ...opts.env, [SUPERVISED_ENV]: "1" },
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const output: string[] = [];
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${opts.role} ${opts.name} was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`${opts.role} ${opts.name} ${why}${output.length ? `: ${output.join(" / ")}` : ""}`));
    };
    child.once("error", (err) => fail(`could not start: ${err.message}`));
    exited.then(({ code, signal }) => fail(`exited before it was ready (exit code ${code}${signal ? `, signal ${signal}` : ""})`));
    let isReady = false;
    lines.on("line", (line) => {
      // After ready, whatever the node still prints (a V8 trace, a warning) is
      // passed on, not kept: the pipe must never fill and block the node.
      if (isReady) process.stdout.write(`[${opts.name}] ${line}\n`);
      else if (!line.startsWith(`ready ${opts.role} `)) output.push(line);
      else {
        isReady = true;
        clearTimeout(timer);
        resolve({ name: opts.name, role: opts.role, child, pid: child.pid!, ready: parseReady(line), command, exited });
      }
    });
  });
}

/** SIGTERM to a node we started, then SIGKILL if it has not exited within `graceMs`. */
export async function stopNode(p: NodeProcess, graceMs = 15_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill("SIGTERM");
  const timer = setTimeout(() => p.child.kill("SIGKILL"), graceMs);
  await p.exited;
  clearTimeout(timer);
}

/**
 * In a supervised child: exit cleanly when the supervisor's end of stdin
 * closes, so a supervisor killed with -9 leaves no orphans holding ports.
 */
export function exitWithSupervisor(): void {
  if (process.env[SUPERVISED_ENV] !== "1") return;
  // The same clean path as a signal: catchStopSignals handles it.
  let sent = false;
  const close = () => {
    if (sent) return;
    sent = true;
    process.kill(process.pid, "SIGTERM");
  };
  process.stdin.on("error", () => undefined);
  process.stdin.once("end", close);
  process.stdin.once("close", close);
  process.stdin.resume();
  // Reading stdin must not keep a node alive that is otherwise done.
  (process.stdin as unknown as { unref?: () => void }).unref?.();
}
