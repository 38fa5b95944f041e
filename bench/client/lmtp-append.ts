// An LMTP listener (RFC 2033) that delivers by IMAP APPEND. imaptest's
// profile mode, whose clients IDLE, read, reply and move mail as Thunderbird
// and Apple Mail do, gets its new mail over LMTP. charon has no LMTP, and the
// bench's Dovecot runs without dovecot-lmtpd, so both servers receive the
// same way: each message is appended as its recipient, over the same TLS the
// clients use. "user+Box" delivers into Box, created on first use.
import * as net from "node:net";
import type { BenchUser, ServerUnderTest } from "../servers/server";
import { login } from "../scenarios/common";
import type { ImapConnection } from "./connection";

interface Mailer {
  conn: Promise<ImapConnection>;
  /** Appends of one user go one after another on its connection. */
  chain: Promise<unknown>;
}

export class LmtpToImap {
  delivered = 0;
  readonly failures: string[] = [];
  private readonly mailers = new Map<string, Mailer>();
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: ServerUnderTest,
    private readonly users: ReadonlyMap<string, BenchUser>,
    private readonly listener: net.Server,
  ) {}

  static async start(server: ServerUnderTest, users: readonly BenchUser[]): Promise<LmtpToImap> {
    const listener = net.createServer();
    const shim = new LmtpToImap(server, new Map(users.map((u) => [u.name, u])), listener);
    listener.on("connection", (s) => shim.serve(s));
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(0, "127.0.0.1", resolve);
    });
    return shim;
  }

  get port(): number {
    return (this.listener.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const m of this.mailers.values()) {
      await m.chain.catch(() => undefined);
      const c = await m.conn.catch(() => undefined);
      await c?.command("LOGOUT").catch(() => undefined);
      c?.close();
    }
  }

  /** Appends `message` for `recipient` ("user" or "user+Mailbox"). */
  deliver(recipient: string, message: Buffer): Promise<void> {
    const [name = "", box = "INBOX"] = recipient.split("@")[0]!.split("+");
    const user = this.users.get(name);
    if (!user) return Promise.reject(new Error(`unknown user ${name}`));
    let m = this.mailers.get(name);
    if (!m) {
      m = { conn: login(this.server, user), chain: Promise.resolve() };
      this.mailers.set(name, m);
    }
    const mailbox = `"${box.replace(/["\\]/g, "\\$&")}"`;
    const run = async () => {
      const c = await m.conn;
      let r = await c.command([`APPEND ${mailbox} `, message]);
      if (r.status === "NO" && /\[TRYCREATE\]/i.test(r.text)) {
        await c.command(`CREATE ${mailbox}`);
        r = await c.command([`APPEND ${mailbox} `, message]);
      }
      if (r.status !== "OK") throw new Error(`APPEND ${box}: ${r.status} ${r.text}`);
    };
    const p = m.chain.then(run);
    m.chain = p.catch(() => undefined);
    return p;
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let input = Buffer.alloc(0);
    let recipients: string[] = [];
    let inData = false;
    let busy = false;
    const reply = (text: string) => socket.write(`${text}\r\n`);
    // Commands may be pipelined (RFC 2920): they are answered in order, the DATA replies after delivery.
    const work = async () => {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          if (inData) {
            const end = input.indexOf("\r\n.\r\n");
            const empty = input.subarray(0, 3).toString("latin1") === ".\r\n";
            if (end < 0 && !empty) return;
            const body = empty ? Buffer.alloc(0) : input.subarray(0, end + 2);
            input = input.subarray(empty ? 3 : end + 5);
            inData = false;
            const message = Buffer.from(body.toString("latin1").replace(/^\.\./gm, "."), "latin1");
            const to = recipients;
            recipients = [];
            // LMTP answers DATA once per recipient (RFC 2033 §4.2).
            for (const r of to) {
              try {
                await this.deliver(r, message);
                this.delivered++;
                reply("250 2.0.0 delivered");
              } catch (err) {
                this.failures.push(`${r}: ${(err as Error).message}`);
                reply("451 4.3.0 delivery failed");
              }
            }
            continue;
          }
          const nl = input.indexOf("\r\n");
          if (nl < 0) return;
          const line = input.subarray(0, nl).toString("latin1");
          input = input.subarray(nl + 2);
          const verb = (line.split(/[ :]/)[0] ?? "").toUpperCase();
          if (verb === "LHLO") reply("250-bench\r\n250 PIPELINING");
          else if (verb === "MAIL") reply("250 2.1.0 ok");
          else if (verb === "RCPT") {
            const addr = /<([^>]*)>/.exec(line)?.[1] ?? "";
            const known = this.users.has(addr.split("@")[0]!.split("+")[0]!);
            if (known) recipients.push(addr);
            reply(known ? "250 2.1.5 ok" : "550 5.1.1 no such user");
          } else if (verb === "DATA") {
            if (recipients.length === 0) reply("503 5.5.1 no valid recipients");
            else {
              inData = true;
              reply("354 end with <CRLF>.<CRLF>");
            }
          } else if (verb === "RSET") {
            recipients = [];
            reply("250 2.0.0 ok");
          } else if (verb === "NOOP") reply("250 2.0.0 ok");
          else if (verb === "QUIT") {
            socket.end("221 2.0.0 bye\r\n");
            return;
          } else reply("500 5.5.2 unknown command");
        }
      } finally {
        busy = false;
      }
    };
    socket.on("data", (chunk: Buffer) => {
      input = Buffer.concat([input, chunk]);
      void work();
    });
    reply("220 bench LMTP ready");
  }
}
