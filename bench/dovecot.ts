// Dovecot (Debian's dovecot-imapd) as the peer server: installed when
// missing, configured by its own dovecot.conf under a temporary directory
// (loopback IMAPS on a free port, a self-signed ECDSA P-256 certificate like
// charon's, passwd-file users, Maildir), run in the foreground and stopped by
// its PID.
import { spawn, spawnSync, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BenchUser, ServerUnderTest } from "./servers/server";
import { canConnect, ensureDebianPackages, freePort, isAlive, processTree, repoRoot, sleep, stopPids } from "./servers/proc";

export const DOVECOT_BIN = "/usr/sbin/dovecot";

export interface DovecotOptions {
  /** Password scheme of the passwd-file (default SHA512-CRYPT; see bench/README.md). */
  scheme?: string;
  /** Largest number of concurrent sessions the configuration must allow. */
  maxSessions?: number;
  log: (s: string) => void;
}

export function ensureDovecot(): void {
  if (fs.existsSync(DOVECOT_BIN) && fs.existsSync("/usr/bin/doveadm")) return;
  // The script checks commands on PATH; /usr/sbin may be missing from it for non-root users.
  process.env.PATH = `${process.env.PATH ?? ""}:/usr/sbin:/sbin`;
  ensureDebianPackages(repoRoot(), ["dovecot:dovecot-imapd", "doveadm:dovecot-core", "openssl:openssl"]);
  if (!fs.existsSync(DOVECOT_BIN)) throw new Error(`apt-get install dovecot-imapd did not provide ${DOVECOT_BIN}`);
}

function passwordHash(scheme: string, password: string): string {
  if (scheme === "PLAIN") return `{PLAIN}${password}`;
  const r = spawnSync("doveadm", ["pw", "-s", scheme, "-p", password], { encoding: "utf8", env: { ...process.env, PATH: `${process.env.PATH}:/usr/bin:/usr/sbin` } });
  if (r.status !== 0) throw new Error(`doveadm pw -s ${scheme}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The text of dovecot.conf; exported for the unit test. */
export function dovecotConf(o: {
  dir: string;
  port: number;
  internalUser: string;
  loginUser: string;
  mailUid: number;
  mailGid: number;
  maxSessions: number;
}): string {
  const limit = Math.max(1000, o.maxSessions + 100);
  return `# Written by charon bench/dovecot.ts for one benchmark run.
base_dir = ${o.dir}/run
state_dir = ${o.dir}/state
log_path = ${o.dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <${o.dir}/cert.pem
ssl_key = <${o.dir}/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain
# charon remembers successful password verifications; Dovecot gets its own
# auth cache so that both skip the password hash on repeated logins.
auth_cache_size = 10M
auth_cache_ttl = 1 hour
default_internal_user = ${o.internalUser}
default_login_user = ${o.loginUser}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:${o.dir}/mail/%u/Maildir
default_process_limit = ${limit}
default_client_limit = ${limit * 2}
default_vsz_limit = 1G
passdb {
  driver = passwd-file
  args = ${o.dir}/passwd
}
userdb {
  driver = static
  args = uid=${o.mailUid} gid=${o.mailGid} home=${o.dir}/mail/%u
}
protocol imap {
  mail_max_userip_connections = ${limit}
}
# Login processes in Dovecot's high-performance mode (each serves many
# clients), the configuration Dovecot recommends for many sessions: the
# cheaper choice for Dovecot, not the flattering one for charon.
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${o.port}
    ssl = yes
  }
  service_count = 0
  process_min_avail = ${os.cpus().length}
  client_limit = ${limit}
  process_limit = ${limit}
}
# imap processes are reused for later sessions (every user has the same
# uid here) and a few wait ready, so a login rarely waits for a fork/exec:
# Dovecot's performance tuning, again in Dovecot's favour.
service imap {
  process_limit = ${limit}
  service_count = 100
  process_min_avail = ${os.cpus().length * 2}
}
service anvil {
  client_limit = ${limit * 2}
}
service auth {
  client_limit = ${limit * 2}
}
`;
}

export class DovecotServer implements ServerUnderTest {
  readonly name = "dovecot" as const;
  readonly unquotedLogin = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly host: string,
    readonly port: number,
    readonly users: BenchUser[],
    readonly dir: string,
    private readonly conf: string,
    private readonly mailOwner: { uid: number; gid: number } | undefined,
  ) {}

  static async start(users: BenchUser[], opts: DovecotOptions): Promise<DovecotServer> {
    ensureDovecot();
    const scheme = opts.scheme ?? "SHA512-CRYPT";
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dovecot-bench-"));
    // Login and auth processes run as other users and must reach base_dir.
    fs.chmodSync(dir, 0o755);
    for (const d of ["run", "state", "mail"]) fs.mkdirSync(path.join(dir, d), { mode: 0o755 });
    const key = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`, "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], { encoding: "utf8" });
    if (key.status !== 0) throw new Error(`openssl req failed: ${key.stderr}`);
    const root = process.getuid?.() === 0;
    let internalUser: string;
    let loginUser: string;
    let mailUid: number;
    let mailGid: number;
    if (root) {
      // System users of the dovecot-core package; mail belongs to nobody so that no mail runs as root.
      internalUser = "dovecot";
      loginUser = "dovenull";
      mailUid = 65534;
      mailGid = 65534;
      fs.chownSync(path.join(dir, "mail"), mailUid, mailGid);
    } else {
      internalUser = loginUser = os.userInfo().username;
      mailUid = process.getuid?.() ?? 1000;
      mailGid = process.getgid?.() ?? 1000;
    }
    const hashes = new Map<string, string>();
    const lines = users.map((u) => {
      // Hash once per distinct password: doveadm pw is a process each.
      let h = hashes.get(u.password);
      if (!h) hashes.set(u.password, (h = passwordHash(scheme, u.password)));
      return `${u.name}:${h}::::::`;
    });
    fs.writeFileSync(path.join(dir, "passwd"), lines.join("\n") + "\n", { mode: 0o644 });
    const port = await freePort();
    const conf = path.join(dir, "dovecot.conf");
    fs.writeFileSync(conf, dovecotConf({ dir, port, internalUser, loginUser, mailUid, mailGid, maxSessions: opts.maxSessions ?? 1000 }));
    const out = fs.openSync(path.join(dir, "dovecot.stdout.log"), "a");
    const child = spawn(DOVECOT_BIN, ["-F", "-c", conf], { stdio: ["ignore", out, out] });
    fs.closeSync(out);
    const server = new DovecotServer(child, "127.0.0.1", port, users, dir, conf, root ? { uid: mailUid, gid: mailGid } : undefined);
    const deadline = Date.now() + 20_000;
    let exited: number | null | undefined;
    child.on("exit", (code) => (exited = code));
    while (Date.now() < deadline) {
      if (exited !== undefined) break;
      if (await canConnect("127.0.0.1", port)) {
        opts.log(`dovecot pid=${child.pid} 127.0.0.1:${port} scheme=${scheme} conf=${conf}`);
        return server;
      }
      await sleep(100);
    }
    const log = readTail(path.join(dir, "dovecot.log")) + readTail(path.join(dir, "dovecot.stdout.log"));
    await server.stop();
    throw new Error(`dovecot did not start (exit ${exited}); log:\n${log}`);
  }

  memoryProcesses(): { pids: number[]; what: string } {
    return { pids: this.allPids(), what: "every Dovecot process (master, login, imap, auth, ...)" };
  }

  metricsUrls(): string[] {
    return [];
  }

  async importMessages(user: string, count: number, message: (i: number) => { data: Buffer; seen: boolean }): Promise<void> {
    const home = path.join(this.dir, "mail", user);
    const maildir = path.join(home, "Maildir");
    for (const d of ["cur", "new", "tmp"]) fs.mkdirSync(path.join(maildir, d), { recursive: true });
    const stamp = Math.floor(Date.now() / 1000);
    for (let i = 0; i < count; i += 256) {
      const writes: Array<Promise<void>> = [];
      for (let j = i; j < Math.min(count, i + 256); j++) {
        const { data, seen } = message(j);
        // Maildir++ name: unique part, S=size (Dovecot then needs no stat for RFC822.SIZE), :2,FLAGS.
        writes.push(fs.promises.writeFile(path.join(maildir, "cur", `${stamp}.M${j}P${process.pid}.bench,S=${data.length}:2,${seen ? "S" : ""}`), data));
      }
      await Promise.all(writes);
    }
    if (this.mailOwner) {
      const own = spawnSync("chown", ["-R", `${this.mailOwner.uid}:${this.mailOwner.gid}`, home], { encoding: "utf8" });
      if (own.status !== 0) throw new Error(`chown ${home}: ${own.stderr}`);
    }
    // The first sync assigns UIDs and builds dovecot.index, as an APPEND would have, so that no timed command pays for it.
    const st = spawnSync("doveadm", ["-c", this.conf, "mailbox", "status", "-u", user, "messages unseen", "INBOX"], { encoding: "utf8", env: { ...process.env, PATH: `${process.env.PATH}:/usr/bin:/usr/sbin` } });
    if (st.status !== 0) throw new Error(`doveadm mailbox status: ${st.stderr}`);
    const messages = Number(/messages=(\d+)/.exec(st.stdout)?.[1]);
    if (messages !== count) throw new Error(`Dovecot indexed ${messages} messages, ${count} were imported (${st.stdout.trim()})`);
  }

  allPids(): number[] {
    return this.child.pid ? processTree(this.child.pid) : [];
  }

  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid && isAlive(pid)) {
      const tree = processTree(pid);
      await stopPids([pid], 15_000);
      await stopPids(tree.filter((p) => p !== pid && isAlive(p)), 5_000);
    }
    await fs.promises.rm(this.dir, { recursive: true, force: true });
  }
}

function readTail(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").slice(-3000);
  } catch {
    return "";
  }
}
