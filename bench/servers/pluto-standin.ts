// A stand-in for a pluto binary, so that the pluto launcher (pluto.ts) and the
// pluto workload's dialect are tested without pluto, which this machine
// cannot build (no Go toolchain). It takes pluto's command line
// (`-config FILE -storage | -worker NAME | -distributor`) and follows pluto's
// rules where the launcher depends on them: relative paths resolve against
// plutoRoot(cwd), `-worker` must name a configured worker (else exit 1), users
// outside every worker's UserStart..UserEnd cannot log in, and the distributor
// exits when its public certificate cannot be read. Only the distributor
// serves IMAP, from memory, with pluto's command set and no more: LOGIN takes
// two atoms, literals are synchronising (no LITERAL+), and there is no FETCH.
// Each node prints one JSON line when it starts, which the launcher's log keeps.
import * as fs from "node:fs";
import * as path from "node:path";
import * as tls from "node:tls";
import { parseHostPort } from "../../src/config/schema";
import { plutoRoot, readPlutoConfig, readPlutoUsers } from "./pluto";

function goFlags(argv: string[]): Map<string, string | true> {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([\w-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) continue;
    if (m[2] !== undefined) flags.set(m[1], m[2]);
    else if (m[1] === "config" || m[1] === "worker") flags.set(m[1], argv[++i] ?? "");
    else flags.set(m[1], true);
  }
  return flags;
}

interface Message {
  size: number;
  flags: Set<string>;
}

type Store = Map<string, Map<string, Message[]>>;

class StandinSession {
  private buf = Buffer.alloc(0);
  private literal?: { tag: string; box: string; size: number };
  private user?: string;
  private selected?: string;

  constructor(
    private readonly socket: tls.TLSSocket,
    private readonly passwords: Map<string, string>,
    private readonly store: Store,
  ) {
    socket.write("* OK IMAP4rev1 pluto stand-in ready\r\n");
    socket.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.pump();
    });
    socket.on("error", () => socket.destroy());
  }

  private pump(): void {
    for (;;) {
      if (this.literal) {
        const { tag, box, size } = this.literal;
        const end = this.buf.indexOf("\r\n", size);
        if (end < 0) return;
        this.buf = this.buf.subarray(end + 2);
        this.literal = undefined;
        const mailbox = this.boxes().get(box);
        if (!mailbox) this.reply(`${tag} NO [TRYCREATE] Mailbox to append to does not exist`);
        else {
          mailbox.push({ size, flags: new Set() });
          this.reply(`${tag} OK APPEND completed`);
        }
        continue;
      }
      const eol = this.buf.indexOf("\r\n");
      if (eol < 0) return;
      const line = this.buf.subarray(0, eol).toString("latin1");
      this.buf = this.buf.subarray(eol + 2);
      this.command(line);
    }
  }

  private reply(...lines: string[]): void {
    this.socket.write(lines.map((l) => `${l}\r\n`).join(""));
  }

  private boxes(): Map<string, Message[]> {
    let b = this.store.get(this.user!);
    if (!b) this.store.set(this.user!, (b = new Map([["INBOX", []]])));
    return b;
  }

  private command(line: string): void {
    const m = /^(\S+) (\S+)(?: (.*))?$/.exec(line);
    if (!m) return this.reply("* BAD Received invalid IMAP command");
    const [, tag, name, rest = ""] = m;
    const cmd = name.toUpperCase();
    const args = rest === "" ? [] : rest.split(" ");
    if (cmd === "CAPABILITY") return this.reply("* CAPABILITY IMAP4rev1 AUTH=PLAIN", `${tag} OK CAPABILITY completed`);
    if (cmd === "LOGOUT") {
      this.reply("* BYE Terminating connection", `${tag} OK LOGOUT completed`);
      this.socket.end();
      return;
    }
    if (cmd === "LOGIN") {
      // pluto splits LOGIN's arguments on spaces: a quoted name keeps its quotes and is unknown.
      if (args.length !== 2) return this.reply(`${tag} BAD Command LOGIN was sent with other than two parameters`);
      if (this.passwords.get(args[0]) !== args[1]) return this.reply(`${tag} NO Name and / or password wrong`);
      this.user = args[0];
      return this.reply(`${tag} OK Logged in`);
    }
    if (!this.user) return this.reply(`${tag} BAD Command not allowed before LOGIN`);
    const boxes = this.boxes();
    switch (cmd) {
      case "CREATE":
        if (args.length !== 1 || boxes.has(args[0])) return this.reply(`${tag} NO New mailbox cannot be named after an existing one`);
        boxes.set(args[0], []);
        return this.reply(`${tag} OK CREATE completed`);
      case "DELETE":
        if (args.length !== 1 || args[0] === "INBOX" || !boxes.delete(args[0])) return this.reply(`${tag} NO Cannot delete this mailbox`);
        if (this.selected === args[0]) this.selected = undefined;
        return this.reply(`${tag} OK DELETE completed`);
      case "SELECT": {
        const box = boxes.get(args[0] ?? "");
        if (args.length !== 1 || !box) {
          this.selected = undefined;
          return this.reply(`${tag} NO Cannot select this mailbox`);
        }
        this.selected = args[0];
        return this.reply("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)", `* ${box.length} EXISTS`, "* 0 RECENT", `${tag} OK [READ-WRITE] SELECT completed`);
      }
      case "APPEND": {
        const lit = /^\{(\d+)(\+?)\}$/.exec(args[args.length - 1] ?? "");
        if (args.length < 2 || !lit) return this.reply(`${tag} BAD Command APPEND was sent with an invalid literal`);
        // Without LITERAL+ the client must wait for the continuation; a non-synchronising literal is refused.
        if (lit[2]) return this.reply(`${tag} BAD LITERAL+ is not supported`);
        this.literal = { tag, box: args[0], size: Number(lit[1]) };
        return this.reply("+ Ready for literal data");
      }
      case "STORE": {
        const box = this.selected ? boxes.get(this.selected) : undefined;
        if (!box) return this.reply(`${tag} BAD No mailbox selected`);
        const seq = Number(args[0]);
        const flags = /^\((.*)\)$/.exec(args.slice(2).join(" "))?.[1].split(" ").filter(Boolean);
        if (!Number.isInteger(seq) || seq < 1 || seq > box.length || args[1]?.toUpperCase() !== "+FLAGS" || !flags) return this.reply(`${tag} BAD Command STORE was sent with invalid parameters`);
        for (const f of flags) box[seq - 1].flags.add(f);
        return this.reply(`* ${seq} FETCH (FLAGS (${[...box[seq - 1].flags].join(" ")}))`, `${tag} OK STORE completed`);
      }
      case "EXPUNGE": {
        const box = this.selected ? boxes.get(this.selected) : undefined;
        if (!box) return this.reply(`${tag} BAD No mailbox selected`);
        const out: string[] = [];
        // From the end, so each sequence number is still valid when it is sent.
        for (let i = box.length - 1; i >= 0; i--) {
          if (!box[i].flags.has("\\Deleted")) continue;
          box.splice(i, 1);
          out.push(`* ${i + 1} EXPUNGE`);
        }
        return this.reply(...out, `${tag} OK EXPUNGE completed`);
      }
      default:
        return this.reply(`${tag} BAD Received invalid IMAP command`);
    }
  }
}

function main(): void {
  const flags = goFlags(process.argv.slice(2));
  const configFile = String(flags.get("config") ?? "config.toml");
  const facts = readPlutoConfig(fs.readFileSync(configFile, "utf8"));
  const root = plutoRoot(process.cwd());
  const role = flags.has("distributor") ? "distributor" : flags.has("storage") ? "storage" : flags.has("worker") ? "worker" : undefined;
  const worker = flags.get("worker");
  if (!role || (role === "worker" && !facts.workers.includes(String(worker)))) {
    console.error(`pluto stand-in: ${role ? `worker ${String(worker)} is not in ${configFile}` : "give -distributor, -worker NAME or -storage"}`);
    process.exit(1);
  }
  console.log(JSON.stringify({ role, worker: role === "worker" ? worker : undefined, pid: process.pid, cwd: process.cwd() }));
  process.on("SIGTERM", () => process.exit(0));
  if (role !== "distributor") {
    setInterval(() => undefined, 1 << 30);
    return;
  }
  const at = (p: string) => path.resolve(root, p);
  let cert: Buffer, key: Buffer;
  try {
    cert = fs.readFileSync(at(facts.distributor.PublicCertLoc ?? ""));
    key = fs.readFileSync(at(facts.distributor.PublicKeyLoc ?? ""));
  } catch (e) {
    console.error(`pluto stand-in: failed to create public TLS config for distributor: ${(e as Error).message}`);
    process.exit(1);
  }
  const users = facts.authFile ? readPlutoUsers(fs.readFileSync(at(facts.authFile), "utf8"), facts) : [];
  const passwords = new Map(users.map((u) => [u.name, u.password]));
  const store: Store = new Map();
  const listen = facts.distributor.ListenMailAddr ? parseHostPort(facts.distributor.ListenMailAddr, false) : facts.publicAddr;
  if (typeof listen === "string") {
    console.error(`pluto stand-in: ListenMailAddr: ${listen}`);
    process.exit(1);
  }
  tls.createServer({ cert, key }, (s) => new StandinSession(s, passwords, store)).listen(listen.port, listen.host);
}

main();
