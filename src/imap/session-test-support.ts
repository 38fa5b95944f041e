// Drives ImapSession through a fake transport against the real mail store in a
// temp dir. Shared by the session tests.

import pino from "pino";
import { tempStore, type TempStore } from "../mailstore/test-support";
import { ImapSession, type SessionOptions, type SessionTransport } from "./session";

export const USERS: Record<string, string> = { alice: "secret", bob: "hunter2" };

export class FakeTransport implements SessionTransport {
  readonly chunks: Buffer[] = [];
  ended = false;
  paused = 0;
  resumed = 0;
  /** When false, write() reports back-pressure. */
  accepting = true;

  write(b: Buffer | string): boolean {
    this.chunks.push(Buffer.isBuffer(b) ? b : Buffer.from(b));
    return this.accepting;
  }
  end(): void {
    this.ended = true;
  }
  /** Resolved by `drained()`, as a socket's 'drain' would. */
  private drainWaiters: Array<() => void> = [];
  whenDrained(): Promise<void> {
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }
  drained(): void {
    this.accepting = true;
    for (const w of this.drainWaiters.splice(0)) w();
  }
  pause(): void {
    this.paused++;
  }
  resume(): void {
    this.resumed++;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

export class Client {
  /** Output already returned by an earlier call. */
  private seen = 0;

  constructor(
    readonly session: ImapSession,
    readonly transport: FakeTransport,
  ) {}

  send(data: string | Buffer): void {
    this.session.onData(Buffer.isBuffer(data) ? data : Buffer.from(data));
  }

  /** Everything written since the last read. */
  take(): string {
    const all = this.transport.text();
    const out = all.slice(this.seen);
    this.seen = all.length;
    return out;
  }

  /** Waits until the output since the last read contains `needle`, then returns it (and consumes it). */
  async waitFor(needle: string | RegExp): Promise<string> {
    for (let i = 0; i < 20_000; i++) {
      const rest = this.transport.text().slice(this.seen);
      if (typeof needle === "string" ? rest.includes(needle) : needle.test(rest)) return this.take();
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`timed out waiting for ${String(needle)}; output so far:\n${this.transport.text().slice(this.seen)}`);
  }

  /** Sends one command line and returns the output up to and including its tagged reply. */
  async cmd(line: string): Promise<string> {
    const tag = line.split(" ")[0]!;
    this.send(line + "\r\n");
    return this.waitTagged(tag);
  }

  async waitTagged(tag: string): Promise<string> {
    const re = new RegExp(`(^|\\r\\n)${tag.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} (OK|NO|BAD)[^\\r\\n]*\\r\\n`);
    return this.waitFor(re);
  }

  /** Lets queued work run without expecting output. */
  async settle(): Promise<void> {
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  }
}

export interface Harness {
  store: TempStore;
  open(opts?: Partial<SessionOptions>): Client;
  /** An authenticated session (over TLS) for `user`, with its greeting and login consumed. */
  login(user?: string, opts?: Partial<SessionOptions>): Promise<Client>;
  cleanup(): Promise<void>;
}

export async function harness(): Promise<Harness> {
  const store = await tempStore();
  const clients: Client[] = [];
  const h: Harness = {
    store,
    open(opts = {}) {
      const transport = new FakeTransport();
      const session = new ImapSession(transport, {
        store: store.store,
        authenticate: async (u, p) => USERS[u] !== undefined && USERS[u] === p,
        limits: { maxLineLength: 8192, maxLiteralSize: 1024 * 1024, maxAppendSize: 512 * 1024 },
        secure: true,
        log: pino({ level: "silent" }),
        ...opts,
      });
      const c = new Client(session, transport);
      clients.push(c);
      session.greet();
      return c;
    },
    async login(user = "alice", opts = {}) {
      const c = h.open(opts);
      c.take();
      const r = await c.cmd(`L1 LOGIN ${user} ${USERS[user]}`);
      if (!r.includes("L1 OK")) throw new Error(`login failed: ${r}`);
      return c;
    },
    async cleanup() {
      for (const c of clients) c.session.onClose();
      await store.cleanup();
    },
  };
  return h;
}

/** A small RFC 5322 message. */
export function sampleMessage(subject: string, body = "Hello there.\r\n"): string {
  return [
    "From: Alice <alice@example.org>",
    "To: Bob <bob@example.org>",
    `Subject: ${subject}`,
    "Date: Mon, 3 Feb 2025 23:30:00 -0800",
    `Message-ID: <${subject.replace(/\W/g, "")}@example.org>`,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    body,
  ].join("\r\n");
}

/** `tag APPEND mailbox (flags) {n+}` with the message as a non-synchronising literal. */
export function appendLine(tag: string, mailbox: string, message: string, flags = ""): string {
  const flagPart = flags ? ` (${flags})` : "";
  return `${tag} APPEND ${mailbox}${flagPart} {${Buffer.byteLength(message)}+}\r\n${message}\r\n`;
}
