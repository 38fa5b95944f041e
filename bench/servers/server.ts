// What a scenario needs to know of a server under test.

export interface BenchUser {
  name: string;
  password: string;
}

export interface ServerUnderTest {
  readonly name: "charon" | "dovecot" | "pluto";
  readonly host: string;
  /** The implicit-TLS (IMAPS) port clients use. */
  readonly port: number;
  /** pluto wants LOGIN arguments as atoms. */
  readonly unquotedLogin: boolean;
  /** Users the server knows (pluto brings its own). */
  readonly users: BenchUser[];
  /** Process whose resident memory the idle scenario reports (charon: the distributor), plus how it was chosen. */
  memoryProcesses(): { pids: number[]; what: string };
  /** Admin /metrics URLs (charon only). */
  metricsUrls(): string[];
  /**
   * Loads messages into a user's INBOX without IMAP, the way a migration
   * would (Dovecot: files in the Maildir, then indexed). Only for fixtures
   * too large to APPEND in a bounded time; never timed against APPEND.
   */
  importMessages?(user: string, count: number, message: (i: number) => { data: Buffer; seen: boolean }): Promise<void>;
  /** Every PID of the server, for CPU accounting. */
  allPids(): number[];
  stop(): Promise<void>;
}

export function makeUsers(n: number): BenchUser[] {
  const users: BenchUser[] = [];
  for (let i = 1; i <= n; i++) users.push({ name: `bench${String(i).padStart(4, "0")}`, password: `pw${i}x${(i * 7919) % 10007}` });
  return users;
}
