// A client for fault tests: it appends unique messages and flags some of them
// in a loop, reconnects whenever its session is cut (as a mail client does
// after `* BYE`), and records every acknowledged write in a HistoryChecker.
import { createHash } from "node:crypto";
import type { HistoryChecker } from "../../verification/history-checker";
import { RawImapClient } from "./raw-client";

export interface WriterTarget {
  host: string;
  imapsPort: number;
}

export class WriterClient {
  acked = 0;
  reconnects = 0;
  private stopped = false;
  private conn: RawImapClient | undefined;
  private n = 0;
  private running: Promise<void> | undefined;

  constructor(
    readonly id: string,
    readonly user: string,
    private readonly password: string,
    private readonly target: () => WriterTarget,
    private readonly checker: HistoryChecker,
    /** Think time between writes, as a person or a sync client has; 0 writes flat out. */
    private readonly pauseMs = 0,
  ) {}

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
    this.conn?.destroy();
  }

  private async connect(): Promise<RawImapClient> {
    const t = this.target();
    const c = await RawImapClient.connectTls(t.imapsPort, t.host, 3_000);
    await c.greeting(3_000);
    const login = await c.command("l", `LOGIN ${this.user} ${this.password}`, 5_000);
    if (login.status !== "OK") throw new Error(`login: ${login.tagged}`);
    const sel = await c.command("s", "SELECT INBOX", 5_000);
    if (sel.status !== "OK") throw new Error(`select: ${sel.tagged}`);
    return c;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.conn || this.conn.closed) {
          if (this.conn) this.reconnects++;
          this.conn = await this.connect();
        }
        await this.step(this.conn);
        if (this.pauseMs > 0) await new Promise((r) => setTimeout(r, this.pauseMs));
      } catch {
        // Cut mid-command: the write is not acknowledged, so it is not recorded. Reconnect.
        this.conn?.destroy();
        this.conn = undefined;
        this.reconnects++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await this.conn?.logout().catch(() => undefined);
  }

  private async step(c: RawImapClient): Promise<void> {
    const i = this.n++;
    const body = Buffer.from(`From: ${this.id}@example.org\r\nSubject: ${this.id} ${i}\r\nMessage-ID: <${this.id}.${i}.${process.pid}@charon.test>\r\n\r\nbody of ${this.id} number ${i}\r\n`);
    const blob = createHash("sha256").update(body).digest("hex");
    const tag = `a${i}`;
    c.write(Buffer.concat([Buffer.from(`${tag} APPEND INBOX {${body.length}+}\r\n`), body, Buffer.from("\r\n")]));
    const r = await c.readUntilTagged(tag, 5_000);
    if (r.status !== "OK") throw new Error(r.tagged);
    const m = /\[APPENDUID (\d+) (\d+)\]/.exec(r.tagged);
    if (!m) throw new Error(`no APPENDUID: ${r.tagged}`);
    const uid = Number(m[2]);
    this.checker.append(this.id, this.user, "INBOX", blob, Number(m[1]), uid);
    this.acked++;
    if (i % 3 === 0) {
      const s = await c.command(`f${i}`, `UID STORE ${uid} +FLAGS (\\Flagged)`, 5_000);
      // Acknowledged for this message only if the server said the message now has the flag.
      const fetched = s.untagged.some((u) => new RegExp(`FETCH \\(.*UID ${uid}\\b.*\\\\Flagged|FETCH \\(.*\\\\Flagged.*UID ${uid}\\b`).test(u));
      if (s.status === "OK" && fetched) this.checker.store(this.id, this.user, "INBOX", blob, "\\Flagged", true);
    }
  }
}
