// A raw-socket IMAP client for load generation: TLS (or plain) socket,
// pipelined commands, literals sent with LITERAL+ when the server offers it
// (otherwise synchronising literals, waiting for each "+"), and the latency
// of every command from the moment its first byte went out to its tagged
// response.
import * as net from "node:net";
import * as tls from "node:tls";
import { performance } from "node:perf_hooks";
import { capabilitiesIn, ImapResponse, ResponseParser, taggedStatus } from "./parser";

export interface ConnectOptions {
  host: string;
  port: number;
  tls: boolean;
  /** Keep literal bodies in untagged responses (default: sizes only). */
  keepLiterals?: boolean;
  /** Do not keep untagged responses at all, only count them (big FETCHes). */
  countOnly?: boolean;
  timeoutMs?: number;
  /** A connection whose oldest command waits this long for its tagged response is dropped (default 120 s). */
  commandTimeoutMs?: number;
}

export interface CommandResult {
  tag: string;
  status: string;
  text: string;
  untagged: ImapResponse[];
  untaggedCount: number;
  latencyMs: number;
}

/** A command: strings are sent as they are, Buffers as literals. */
export type CommandPart = string | Buffer;

interface Pending {
  tag: string;
  start: number;
  untagged: ImapResponse[];
  untaggedCount: number;
  countOnly: boolean;
  resolve: (r: CommandResult) => void;
  reject: (e: Error) => void;
  /** Set while the writer waits for a "+" before sending this command's literal. */
  cont?: (r: ImapResponse) => void;
}

export class ImapError extends Error {}

// One client context for every connection: building a SecureContext per
// connect costs the generator more CPU than the handshake's own work.
let sharedContext: tls.SecureContext | undefined;
function clientContext(): tls.SecureContext {
  return (sharedContext ??= tls.createSecureContext({}));
}

export class ImapConnection {
  capabilities = new Set<string>();
  greeting = "";
  /** From the start of the TCP connect to the greeting, the TLS handshake included (ms). */
  connectMs = NaN;
  /** The server's BYE, when it sent one. */
  bye: string | undefined;
  private nextTag = 1;
  private readonly pending: Pending[] = [];
  private writeChain: Promise<void> = Promise.resolve();
  private closed = false;
  private corked = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private closeError: Error | undefined;
  private readonly parser: ResponseParser;
  private greetingWaiter: ((r: ImapResponse) => void) | undefined;

  private constructor(private readonly socket: net.Socket, private readonly opts: ConnectOptions) {
    this.parser = new ResponseParser((r) => this.onResponse(r), opts.keepLiterals ?? false);
    socket.on("data", (chunk: Buffer) => {
      // Once per chunk, not per response: a FETCH answers with a hundred lines in one chunk.
      this.stallTimer?.refresh();
      this.parser.push(chunk);
    });
    socket.on("error", (e) => this.fail(e));
    // After close() there is nothing left to fail, and an Error's stack costs the generator CPU per session.
    socket.on("close", () => this.closed || this.fail(new ImapError(this.bye ? `connection closed after ${this.bye}` : "connection closed")));
  }

  static connect(opts: ConnectOptions): Promise<ImapConnection> {
    return new Promise((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? 30_000;
      const started = performance.now();
      let conn: ImapConnection | undefined;
      const socket = opts.tls
        ? tls.connect({ host: opts.host, port: opts.port, rejectUnauthorized: false, secureContext: clientContext() })
        : net.connect({ host: opts.host, port: opts.port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ImapError(`no greeting from ${opts.host}:${opts.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onEarlyError = (e: Error) => {
        clearTimeout(timer);
        reject(e);
      };
      socket.once("error", onEarlyError);
      conn = new ImapConnection(socket, opts);
      const c = conn;
      c.greetingWaiter = (r) => {
        clearTimeout(timer);
        socket.off("error", onEarlyError);
        c.connectMs = performance.now() - started;
        c.greeting = r.text;
        const caps = capabilitiesIn(r.text);
        if (caps) c.capabilities = new Set(caps);
        if (/^\* (OK|PREAUTH)/i.test(r.text)) resolve(c);
        else {
          socket.destroy();
          reject(new ImapError(`bad greeting: ${r.text}`));
        }
      };
    });
  }

  get literalPlus(): boolean {
    return this.capabilities.has("LITERAL+");
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Sends a command (pipelined behind any in flight) and resolves with its
   * tagged response; with `countOnly` its untagged responses are counted, not kept.
   */
  command(parts: CommandPart | CommandPart[], o: { countOnly?: boolean } = {}): Promise<CommandResult> {
    if (this.closed) return Promise.reject(this.closeError ?? new ImapError("connection closed"));
    const list = Array.isArray(parts) ? parts : [parts];
    const tag = `a${this.nextTag++}`;
    return new Promise<CommandResult>((resolve, reject) => {
      const p: Pending = { tag, start: 0, untagged: [], untaggedCount: 0, countOnly: o.countOnly ?? this.opts.countOnly ?? false, resolve, reject };
      this.pending.push(p);
      this.writeChain = this.writeChain.then(() => this.writeCommand(p, list)).catch((e: Error) => this.fail(e));
      this.armStallTimer();
    });
  }

  /** Runs CAPABILITY and stores the result. */
  async refreshCapabilities(): Promise<void> {
    const r = await this.command("CAPABILITY");
    for (const u of r.untagged) {
      const caps = capabilitiesIn(u.text);
      if (caps) this.capabilities = new Set(caps);
    }
  }

  close(): void {
    if (this.closed) return;
    if (this.pending.length === 0) {
      // Nothing to reject: skip building an Error (its stack trace costs the generator CPU per session).
      this.closed = true;
      if (this.stallTimer) clearTimeout(this.stallTimer);
      this.socket.destroy();
      return;
    }
    this.fail(new ImapError("closed by client"));
  }

  /** Writes, corking the socket until the end of this tick so that pipelined commands share TLS records and syscalls. */
  private send(data: string | Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(data);
  }

  private async writeCommand(p: Pending, parts: CommandPart[]): Promise<void> {
    if (this.closed) throw this.closeError ?? new ImapError("connection closed");
    const plus = this.literalPlus;
    let head = `${p.tag} `;
    p.start = performance.now();
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (typeof part === "string") {
        head += part;
        continue;
      }
      if (plus) {
        this.send(`${head}{${part.length}+}\r\n`);
        this.send(part);
        head = "";
        continue;
      }
      const cont = new Promise<ImapResponse>((resolve) => (p.cont = resolve));
      this.send(`${head}{${part.length}}\r\n`);
      head = "";
      const r = await cont;
      p.cont = undefined;
      if (r.tag !== "+") return; // the command was refused; its tagged response settles it
      this.send(part);
    }
    this.send(`${head}\r\n`);
  }

  /** Bounds every wait: while commands are pending, some response must arrive within commandTimeoutMs. */
  private armStallTimer(): void {
    if (this.stallTimer) {
      this.stallTimer.refresh();
      return;
    }
    const ms = this.opts.commandTimeoutMs ?? 120_000;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      if (this.pending.length > 0) this.fail(new ImapError(`no response to ${this.pending[0].tag} within ${ms} ms`));
    }, ms);
    this.stallTimer.unref();
  }

  private onResponse(r: ImapResponse): void {
    if (this.greetingWaiter) {
      const w = this.greetingWaiter;
      this.greetingWaiter = undefined;
      w(r);
      return;
    }
    if (r.tag === "+") {
      this.pending.find((p) => p.cont)?.cont?.(r);
      return;
    }
    if (r.tag === "*") {
      // Third character first: the regex would run on every FETCH line.
      const c = r.text.charCodeAt(2);
      if ((c === 0x42 || c === 0x62) && /^\* BYE/i.test(r.text)) this.bye = r.text;
      const head = this.pending[0];
      if (head) {
        head.untaggedCount++;
        if (!head.countOnly) head.untagged.push(r);
      }
      return;
    }
    const idx = this.pending.findIndex((p) => p.tag === r.tag);
    if (idx < 0) return;
    const [p] = this.pending.splice(idx, 1);
    // A tagged answer to a command still waiting for a continuation: release the writer.
    p.cont?.(r);
    const { status } = taggedStatus(r);
    p.resolve({ tag: p.tag, status, text: r.text, untagged: p.untagged, untaggedCount: p.untaggedCount, latencyMs: performance.now() - p.start });
  }

  private fail(e: Error): void {
    if (this.stallTimer) {
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
    }
    if (this.closed) return;
    this.closed = true;
    this.closeError = e;
    if (!this.socket.destroyed) this.socket.destroy();
    for (const p of this.pending.splice(0)) {
      p.cont?.({ tag: "", text: "", literalSizes: [] });
      p.reject(e);
    }
    if (this.greetingWaiter) {
      const w = this.greetingWaiter;
      this.greetingWaiter = undefined;
      w({ tag: "*", text: `* BYE ${e.message}`, literalSizes: [] });
    }
  }
}

/** Quotes an IMAP string argument. */
export function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Connects, optionally refreshes capabilities, and logs in. Throws on NO/BAD. */
export async function openSession(
  opts: ConnectOptions & { user: string; password: string; unquotedLogin?: boolean },
  record?: (command: string, r: CommandResult) => void,
): Promise<ImapConnection> {
  const c = await ImapConnection.connect(opts);
  const login = opts.unquotedLogin ? `LOGIN ${opts.user} ${opts.password}` : `LOGIN ${quote(opts.user)} ${quote(opts.password)}`;
  const r = await c.command(login);
  record?.("LOGIN", r);
  if (r.status !== "OK") {
    c.close();
    throw new ImapError(`LOGIN ${opts.user}: ${r.text}`);
  }
  const caps = capabilitiesIn(r.text);
  if (caps) c.capabilities = new Set(caps);
  else if (c.capabilities.size === 0) await c.refreshCapabilities();
  return c;
}
