// An LMTP listener (RFC 2033, nodemailer's smtp-server in LMTP mode) that
// delivers by IMAP APPEND. imaptest's profile mode, whose clients IDLE, read,
// reply and move mail as Thunderbird and Apple Mail do, gets its new mail
// over LMTP. charon has no LMTP, and the bench's Dovecot runs without
// dovecot-lmtpd, so both servers receive the same way: each message is
// appended as its recipient, over the same TLS the clients use. Users are
// named by address (smtp-server insists on a domain): "user+Box@domain"
// delivers into Box of user@domain, created on first use.
import type { AddressInfo } from "node:net";
import { SMTPServer, type SMTPServerDataResult } from "smtp-server";
import { quoted } from "../../src/imap/writer";
import type { BenchUser, ServerUnderTest } from "../servers/server";
import { login } from "../scenarios/common";
import type { ImapConnection } from "./connection";

interface Mailer {
  conn: Promise<ImapConnection>;
  /** Appends of one user go one after another on its connection. */
  chain: Promise<unknown>;
}

/** What a recipient address names: the user ("local@domain" without the detail), and the mailbox of its "+detail" (INBOX without one). */
export function recipientOf(address: string): { user: string; mailbox: string } {
  const at = address.lastIndexOf("@");
  const [local = "", mailbox = "INBOX"] = address.slice(0, at).split("+");
  return { user: `${local}${address.slice(at)}`, mailbox };
}

export class LmtpToImap {
  delivered = 0;
  readonly failures: string[] = [];
  private readonly mailers = new Map<string, Mailer>();

  private constructor(
    private readonly server: ServerUnderTest,
    private readonly users: ReadonlyMap<string, BenchUser>,
    private readonly listener: SMTPServer,
  ) {}

  static async start(server: ServerUnderTest, users: readonly BenchUser[]): Promise<LmtpToImap> {
    const byName = new Map(users.map((u) => [u.name, u]));
    let shim!: LmtpToImap;
    const listener = new SMTPServer({
      lmtp: true,
      name: "bench",
      logger: false,
      disabledCommands: ["AUTH", "STARTTLS"],
      onRcptTo(address, _session, callback) {
        if (byName.has(recipientOf(address.address).user)) callback();
        else callback(Object.assign(new Error("no such user"), { responseCode: 550 }));
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          const message = Buffer.concat(chunks);
          // One reply per recipient (RFC 2033 §4.2), in the order they were given.
          void Promise.all(session.envelope.rcptTo.map((r) => shim.deliverCounted(r.address, message))).then((replies) => callback(null, replies));
        });
      },
    });
    shim = new LmtpToImap(server, byName, listener);
    await new Promise<void>((resolve, reject) => {
      listener.server.once("error", reject);
      listener.listen(0, "127.0.0.1", resolve);
    });
    return shim;
  }

  get port(): number {
    return (this.listener.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const m of this.mailers.values()) {
      await m.chain.catch(() => undefined);
      const c = await m.conn.catch(() => undefined);
      await c?.command("LOGOUT").catch(() => undefined);
      c?.close();
    }
  }

  /** Appends `message` for `recipient` ("user@domain", or "user+Mailbox@domain"). */
  deliver(recipient: string, message: Buffer): Promise<void> {
    const { user: name, mailbox: box } = recipientOf(recipient);
    const user = this.users.get(name);
    if (!user) return Promise.reject(new Error(`unknown user ${name}`));
    let m = this.mailers.get(name);
    if (!m) {
      m = { conn: login(this.server, user), chain: Promise.resolve() };
      this.mailers.set(name, m);
    }
    const run = async () => {
      const mailbox = quoted(box);
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

  /** deliver(), counted, as the LMTP reply for that recipient. */
  private async deliverCounted(recipient: string, message: Buffer): Promise<SMTPServerDataResult> {
    try {
      await this.deliver(recipient, message);
      this.delivered++;
      return "delivered";
    } catch (err) {
      this.failures.push(`${recipient}: ${(err as Error).message}`);
      return Object.assign(new Error("delivery failed"), { responseCode: 451 });
    }
  }
}
