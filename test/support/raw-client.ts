import net from "node:net";
import tls from "node:tls";

/**
 * A byte-level IMAP client for precise protocol assertions. Responses are returned whole:
 * a response line that announces a literal `{n}` includes the n literal bytes and the rest of
 * the response, exactly as RFC 3501 §4.3 frames it.
 */
export class RawImapClient {
  private socket: net.Socket | tls.TLSSocket;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closedFlag = false;
  /** Every response received, in order, for transcripts. */
  readonly transcript: string[] = [];
  private readonly onData = (d: Buffer) => {
    this.buf = Buffer.concat([this.buf, d]);
    this.wake();
  };
  private readonly onClose = () => {
    this.closedFlag = true;
    this.wake();
  };

  private constructor(socket: net.Socket | tls.TLSSocket) {
    this.socket = socket;
    this.attach(socket);
  }

  static async connectTls(port: number, host = "127.0.0.1", timeoutMs = 5_000): Promise<RawImapClient> {
    const socket = tls.connect({ port, host, rejectUnauthorized: false, servername: "localhost" });
    await waitForEvent(socket, "secureConnect", timeoutMs);
    return new RawImapClient(socket);
  }

  static async connectPlain(port: number, host = "127.0.0.1", timeoutMs = 5_000): Promise<RawImapClient> {
    const socket = net.connect({ port, host });
    await waitForEvent(socket, "connect", timeoutMs);
    return new RawImapClient(socket);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get encrypted(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  private attach(socket: net.Socket) {
    socket.on("data", this.onData);
    socket.on("close", this.onClose);
    socket.on("end", this.onClose);
    // Errors surface as a close; ECONNRESET after a fuzzed command is expected.
    socket.on("error", () => this.onClose());
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(data: string | Buffer): void {
    if (!this.closedFlag) this.socket.write(data);
  }

  /** Writes `tag text\r\n`. */
  send(tag: string, text: string | Buffer): void {
    this.write(Buffer.concat([Buffer.from(`${tag} `), Buffer.isBuffer(text) ? text : Buffer.from(text, "utf8"), Buffer.from("\r\n")]));
  }

  /** Takes one complete response from the buffer if there is one. */
  private takeResponse(): Buffer | undefined {
    let pos = 0;
    for (;;) {
      const crlf = this.buf.indexOf("\r\n", pos);
      if (crlf < 0) return undefined;
      const line = this.buf.subarray(pos, crlf).toString("latin1");
      const m = /\{(\d+)\}$/.exec(line);
      if (!m) {
        const resp = this.buf.subarray(0, crlf);
        this.buf = this.buf.subarray(crlf + 2);
        return resp;
      }
      const n = Number(m[1]);
      if (this.buf.length < crlf + 2 + n) return undefined;
      pos = crlf + 2 + n;
    }
  }

  /** Next whole response (without the final CRLF), or throws on timeout / close. */
  async next(timeoutMs = 5_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.takeResponse();
      if (r) {
        const s = r.toString("utf8");
        this.transcript.push(`S: ${s}`);
        return s;
      }
      if (this.closedFlag) throw new ConnectionClosedError(this.transcript);
      const left = deadline - Date.now();
      if (left <= 0) throw new ResponseTimeoutError(this.transcript, this.buf.toString("latin1"));
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Reads responses until the tagged one for `tag`; returns untagged/continuations before it and the tagged line. */
  async readUntilTagged(tag: string, timeoutMs = 5_000): Promise<TaggedResult> {
    const deadline = Date.now() + timeoutMs;
    const untagged: string[] = [];
    for (;;) {
      const r = await this.next(Math.max(1, deadline - Date.now()));
      if (r.startsWith(`${tag} `)) {
        const status = r.slice(tag.length + 1).split(" ", 1)[0].toUpperCase();
        return { untagged, tagged: r, status };
      }
      untagged.push(r);
    }
  }

  /** Sends a command and collects its responses. */
  async command(tag: string, text: string, timeoutMs = 5_000): Promise<TaggedResult> {
    this.transcript.push(`C: ${tag} ${text}`);
    this.send(tag, text);
    return this.readUntilTagged(tag, timeoutMs);
  }

  /** Waits for a `+` continuation request; returns it. Throws if a tagged/untagged response comes instead. */
  async expectContinuation(timeoutMs = 5_000): Promise<string> {
    const r = await this.next(timeoutMs);
    if (!r.startsWith("+")) throw new Error(`expected continuation, got: ${r}`);
    return r;
  }

  async greeting(timeoutMs = 5_000): Promise<string> {
    return this.next(timeoutMs);
  }

  /** STARTTLS on a plain connection: sends the command, upgrades the socket in place after OK. */
  async startTls(tag = "tls", timeoutMs = 5_000): Promise<TaggedResult> {
    const res = await this.command(tag, "STARTTLS", timeoutMs);
    if (res.status !== "OK") return res;
    if (this.buf.length > 0) throw new Error(`data after STARTTLS OK before handshake: ${this.buf.toString("latin1")}`);
    await this.upgrade(timeoutMs);
    return res;
  }

  /** Bytes received but not yet consumed as a response. */
  pendingBytes(): Buffer {
    return this.buf;
  }

  /** TLS handshake over the current plain socket (after a STARTTLS OK the caller read itself). */
  async upgrade(timeoutMs = 5_000): Promise<void> {
    const plain = this.socket as net.Socket;
    plain.off("data", this.onData);
    plain.off("close", this.onClose);
    plain.off("end", this.onClose);
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false, servername: "localhost" });
    await waitForEvent(secure, "secureConnect", timeoutMs);
    this.socket = secure;
    this.attach(secure);
  }

  /** Resolves when the server closes the connection (or after timeout, returning false). */
  async waitClosed(timeoutMs = 5_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closedFlag) {
      // Drain responses so the close is observed even after pending output.
      try {
        await this.next(Math.max(1, deadline - Date.now()));
      } catch (e) {
        if (e instanceof ConnectionClosedError) return true;
        if (e instanceof ResponseTimeoutError) return false;
        throw e;
      }
    }
    return true;
  }

  destroy(): void {
    this.closedFlag = true;
    this.socket.destroy();
    this.wake();
  }

  async logout(): Promise<void> {
    if (this.closedFlag) return;
    try {
      await this.command("zz-logout", "LOGOUT", 2_000);
    } catch {
      // Closing anyway.
    }
    this.destroy();
  }
}

export interface TaggedResult {
  untagged: string[];
  tagged: string;
  /** OK / NO / BAD (upper-cased). */
  status: string;
}

export class ConnectionClosedError extends Error {
  constructor(readonly transcript: string[]) {
    super(`connection closed by server; transcript:\n${transcript.slice(-20).join("\n")}`);
  }
}

export class ResponseTimeoutError extends Error {
  constructor(readonly transcript: string[], readonly pending: string) {
    super(`timed out waiting for a response; pending bytes: ${JSON.stringify(pending.slice(0, 300))}; transcript:\n${transcript.slice(-20).join("\n")}`);
  }
}

function waitForEvent(emitter: net.Socket, event: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      emitter.destroy();
      reject(new Error(`timeout waiting for ${event}`));
    }, timeoutMs);
    emitter.once(event, () => {
      clearTimeout(t);
      emitter.off("error", onError);
      resolve();
    });
    const onError = (e: Error) => {
      clearTimeout(t);
      reject(e);
    };
    emitter.once("error", onError);
  });
}

/** Matches the marks a Node stack trace or internal error text leaves in a response. */
export const STACK_TRACE = /\n\s+at \S|\bat [\w.<>]+ \(|node:internal|\.(?:js|ts):\d+:\d+|TypeError|ReferenceError|RangeError|SyntaxError:|Cannot read propert/;
