import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** Repository root: test/support/ is two levels below it. */
export const REPO_ROOT = path.resolve(__dirname, "..", "..");
/** CHARON_E2E_CLI points the tests at another build of the same CLI contract (e.g. an installed one). */
export const CLI_ENTRY = process.env.CHARON_E2E_CLI ?? path.join(REPO_ROOT, "dist", "src", "cli", "main.js");

export const DEFAULT_USERS: ReadonlyArray<readonly [string, string]> = [
  ["alice", "secret1"],
  ["bob", "secret2"],
];

export interface StartServerOptions {
  /** Data directory to reuse (restart tests); a fresh temp dir when omitted. */
  dataDir?: string;
  users?: ReadonlyArray<readonly [string, string]>;
  /** Extra CLI arguments, e.g. a size limit if the CLI supports one. */
  extraArgs?: string[];
  readyTimeoutMs?: number;
  /** Extra environment, e.g. CHARON_* configuration overrides for every node. */
  env?: NodeJS.ProcessEnv;
}

export interface RunningServer {
  readonly host: string;
  readonly imapsPort: number;
  readonly imapPort: number;
  readonly dataDir: string;
  readonly pid: number;
  /** Everything the process wrote to stderr so far (logs), for failure messages. */
  stderr(): string;
  stdout(): string;
  alive(): boolean;
  /** SIGTERM this PID only, wait for exit (SIGKILL after a bound); resolves with how it ended. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }>;
}

const READY_LINE = /^ready imaps=(\S+):(\d+) imap=(\S+):(\d+)\s*$/m;

export function makeDataDir(prefix = "charon-e2e-"): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

function exitPromise(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/** Spawns `charon dev` as a real process and waits for its ready line. */
export async function startServer(opts: StartServerOptions = {}): Promise<RunningServer> {
  if (!existsSync(CLI_ENTRY)) {
    throw new Error(`${CLI_ENTRY} is missing: build first (npx tsc -p tsconfig.build.json)`);
  }
  const dataDir = opts.dataDir ?? makeDataDir();
  const users = opts.users ?? DEFAULT_USERS;
  const args = [CLI_ENTRY, "dev", "--data", dataDir, "--imaps-port", "0", "--imap-port", "0"];
  for (const [name, pass] of users) args.push("--user", `${name}:${pass}`);
  args.push(...(opts.extraArgs ?? []));

  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_ENV: "test", ...opts.env },
  });
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    // Bounded so a chatty logger cannot grow test memory without limit.
    err = (err + d).slice(-200_000);
  });
  const exited = exitPromise(child);

  const timeoutMs = opts.readyTimeoutMs ?? 20_000;
  const ready = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.kill("SIGKILL");
      reject(new Error(`server not ready within ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err.slice(-4000)}`));
    }, timeoutMs);
    const onData = (d: string) => {
      out += d;
      const m = out.match(READY_LINE);
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`server exited before ready (code ${code}, signal ${signal})\nstdout:\n${out}\nstderr:\n${err.slice(-4000)}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.off("exit", onExit);
    };
    child.stdout!.on("data", onData);
    child.once("exit", onExit);
  });
  child.stdout!.on("data", (d: string) => {
    out = (out + d).slice(-200_000);
  });

  const [, imapsHost, imapsPort, , imapPort] = ready;
  let stopping: Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }> | undefined;
  return {
    // Clients connect over loopback whatever the listener address is, so the tests never leave the host.
    host: imapsHost.includes(":") ? "::1" : "127.0.0.1",
    imapsPort: Number(imapsPort),
    imapPort: Number(imapPort),
    dataDir,
    pid: child.pid!,
    stderr: () => err,
    stdout: () => out,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          const r = await exited;
          return { ...r, forced: false };
        }
        child.kill("SIGTERM");
        let timer: NodeJS.Timeout | undefined;
        const bounded = await Promise.race([
          exited.then((r) => ({ ...r, forced: false })),
          new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 10_000))),
        ]);
        clearTimeout(timer);
        if (bounded) return bounded;
        child.kill("SIGKILL");
        return { ...(await exited), forced: true };
      })();
      return stopping;
    },
  };
}
