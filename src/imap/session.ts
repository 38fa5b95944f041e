// One IMAP connection: bytes in, framed commands run strictly in order, bytes
// out. The session owns the state machine (RFC 3501 §3) and the selected
// mailbox view; what each command does lives in src/imap/commands.

import type { Logger } from "pino";
import { capabilities } from "./capabilities";
import { ALL_COMMANDS } from "./commands";
import { Dispatcher, failureReply, type CommandContext, type Reply } from "./dispatcher";
import { CommandFramer, readTagAndCommand, type FramerEvent, type FramerLimits } from "./framer";
import type { SelectedView } from "./selected-view";
import type { MailStore, UserStore } from "./store-port";
import { parseCommand, ProtocolError } from "./tokenizer";
import type { ParsedCommand, SessionState } from "./types";
import type { CommandStatus, SessionObserver } from "./observer";

export interface SessionOptions {
  store: MailStore;
  authenticate(user: string, password: string): Promise<boolean>;
  limits: FramerLimits & { maxAppendSize: number; slowCommandMs?: number };
  /** Whether the connection is already TLS. */
  secure: boolean;
  /** Upgrades the socket in place; undefined when STARTTLS is not offered (already TLS). */
  startTls?: () => Promise<void>;
  log: Logger;
  serverName?: string;
  /**
   * The session starts authenticated as this user (no greeting capabilities for
   * login): the distributor did the login and relays the rest of the connection.
   */
  preauthenticated?: { user: string };
  /**
   * Distributor mode: the password is checked here, then the rest of the
   * connection is relayed to the node that holds the user's mail.
   */
  handoff?: SessionHandoff;
  /** Commands queued (read but not yet run) before reading is paused. Default 64. */
  maxQueuedCommands?: number;
  /** Bytes of queued commands (literals included) before reading is paused. Default 1 MiB. */
  maxQueuedBytes?: number;
  /** Metrics hook (src/imap/observer.ts). */
  observer?: SessionObserver;
}

/**
 * What the session writes to. `write` returns false when the peer is slow;
 * with `whenDrained` the session then holds further output (the next command,
 * IDLE updates, the rest of a FETCH) until the transport has drained. Without
 * it the session cannot know and keeps writing; the owner should then stop
 * reading input while writes are pending. `pause`/`resume` stop and restart
 * reading when too many pipelined commands wait.
 */
export interface SessionTransport {
  write(b: Buffer | string): boolean;
  end(): void;
  pause?(): void;
  resume?(): void;
  /** Resolves once the data written so far is below the high-water mark again (socket 'drain'). */
  whenDrained?(): Promise<void>;
}

/** How a distributor session passes a logged-in connection on. */
export interface SessionHandoff {
  /** Opens the user's session on a mail node; a rejection answers the login NO [UNAVAILABLE]. */
  open(user: string): Promise<void>;
  /**
   * The tagged OK of the login has been written. `pending` holds every byte the
   * client sent after the login command; from now on the owner relays the
   * connection and the session is inert. `closed` is all the owner needs to
   * keep of it (it closes the session's metrics; it throws if the observer
   * does), so the owner drops the session itself: an idle relayed connection
   * should cost as little as possible.
   */
  start(pending: Buffer, closed: () => void): void;
}

/** Commands after which a distributor stops framing input, because it may belong to another node. */
const LOGIN_COMMANDS = new Set(["LOGIN", "AUTHENTICATE"]);
/**
 * Commands that may run while an earlier command's change is still being
 * written: their output waits behind its tagged reply. Anything else (a
 * SELECT, IDLE, LOGOUT, ...) first waits until every reply has gone out.
 */
const PIPELINED = new Set(["STORE", "EXPUNGE", "FETCH", "SEARCH", "NOOP", "CHECK"]);

/** A tagged reply waiting for its commit, and the output that follows it. */
interface HeldReply {
  line?: string;
  after: Array<Buffer | string>;
}

const CRLF = "\r\n";

/** Stateless, so one serves every session (a per-session command table cost a Map per connection). */
const DISPATCHER = new Dispatcher(ALL_COMMANDS);

export class ImapSession {
  private framer: CommandFramer;
  private readonly dispatcher = DISPATCHER;
  private readonly queue: FramerEvent[] = [];
  private running = false;
  private readingPaused = false;
  private closed = false;
  private state: SessionState = "not-authenticated";
  private secure: boolean;
  private userStore: UserStore | undefined;
  private view: SelectedView | undefined;
  private idling = false;
  /** What handlers may do to this session (see SessionContext). */
  private readonly context: CommandContext;
  private writeBlocked = false;
  /** Oldest first; output goes to the transport only while this is empty. */
  private heldReplies: HeldReply[] = [];
  private repliesSentWaiters: Array<() => void> = [];
  private drainWaiters: Array<() => void> = [];
  private lineWaiter: ((line: string | null) => void) | undefined;
  private currentTag = "*";
  private readonly maxQueued: number;
  private readonly maxQueuedBytes: number;
  private queuedBytes = 0;
  /** Gains `user` once the session knows who logged in. */
  private log: Logger;
  /**
   * Distributor mode: raw bytes received after a login command, held unframed
   * until that login has been answered. Null when not holding.
   */
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  /** Resolves when a preauthenticated session has loaded its user's store. */
  private ready: Promise<void> = Promise.resolve();

  constructor(
    private readonly transport: SessionTransport,
    private readonly opts: SessionOptions,
  ) {
    this.secure = opts.secure;
    this.log = opts.log;
    this.context = new ImapSession.SessionContext(this);
    this.maxQueued = opts.maxQueuedCommands ?? 64;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 1024 * 1024;
    this.framer = this.newFramer();
    this.observe((o) => o.sessionOpened());
    const pre = opts.preauthenticated;
    if (pre) {
      this.ready = this.enterAuthenticated(pre.user).catch((err: unknown) => {
        this.log.error({ err, user: pre.user }, "could not open the mail of a preauthenticated user");
        this.shutdown("Mail store unavailable").catch(() => undefined);
      });
    }
  }

  /** Writes the greeting: `* OK [CAPABILITY ...]` (or `* PREAUTH` for a relayed, logged-in session). */
  greet(): void {
    const name = this.opts.serverName ?? "charon";
    if (this.opts.preauthenticated) {
      this.writeLine(`* PREAUTH [CAPABILITY ${this.capabilityList().join(" ")}] ${name} ready`);
    } else {
      this.writeLine(`* OK [CAPABILITY ${this.capabilityList().join(" ")}] ${name} ready`);
    }
  }

  /** Bytes from the socket. Never throws. */
  onData(chunk: Buffer): void {
    if (this.closed || this.state === "logout") return;
    try {
      this.feed(chunk);
    } catch (err) {
      this.log.error({ err }, "framing failed");
      this.writeLine("* BAD Internal error while reading the command");
    }
    this.pump();
  }

  /** The transport can take more output again (called through `whenDrained`, or by the owner). */
  onDrain(): void {
    this.writeBlocked = false;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
    if (this.idling) this.flushIdle();
  }

  /** The connection is gone: release the mailbox, wake anything waiting. */
  onClose(): void {
    // A handed-off session is closed already; its owner closes its metrics through relayedClose().
    if (this.closed) return;
    this.closed = true;
    this.dropHeldReplies();
    this.observe((o) => o.sessionClosed());
    this.idling = false;
    this.clearQueue();
    this.view?.close();
    this.view = undefined;
    this.lineWaiter?.(null);
    this.lineWaiter = undefined;
    this.onDrain();
  }

  /** Server shutdown: `* BYE`, then the connection ends. */
  async shutdown(reason: string): Promise<void> {
    if (this.closed) return;
    // Replies still waiting for their commit are not sent: the client gets no answer to those commands.
    this.dropHeldReplies();
    this.writeLine(`* BYE ${reason}`);
    this.endConnection();
  }

  /** Ends the transport (after what was written) and closes the session at once. */
  private endConnection(): void {
    this.transport.end();
    this.onClose();
  }

  /** For tests and metrics. */
  get sessionState(): SessionState {
    return this.state;
  }

  // ---- input ----

  private newFramer(): CommandFramer {
    return new CommandFramer(
      { maxLineLength: this.opts.limits.maxLineLength, maxLiteralSize: this.opts.limits.maxLiteralSize },
      () => this.writeLine("+ Ready for literal data"),
    );
  }

  private feed(chunk: Buffer): void {
    if (this.held) return this.hold(chunk);
    if (this.opts.handoff && this.state === "not-authenticated") return this.feedUntilLogin(chunk);
    this.feedFramer(chunk);
  }

  /**
   * Frames one line at a time, so that the bytes after a LOGIN or
   * AUTHENTICATE can be held back raw: if the login succeeds they belong to
   * the mail node, which must see them exactly as the client sent them.
   */
  private feedUntilLogin(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(0x0a, pos);
      const end = lf < 0 ? chunk.length : lf + 1;
      const events = this.framePiece(chunk.subarray(pos, end));
      pos = end;
      const loginAt = events.findIndex((ev) => ev.type === "unit" && LOGIN_COMMANDS.has(commandOf(ev)));
      if (loginAt >= 0) {
        this.enqueue(events.slice(0, loginAt + 1));
        this.held = [];
        this.heldBytes = 0;
        this.hold(chunk.subarray(pos));
        // Events after the login in the same piece cannot exist: a unit ends at a line end.
        return;
      }
      this.enqueue(events);
    }
  }

  private hold(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.held!.push(Buffer.from(chunk));
    this.heldBytes += chunk.length;
    this.serveHeldLine();
    if (!this.readingPaused && this.heldBytes >= this.maxQueuedBytes && this.transport.pause) {
      this.readingPaused = true;
      this.transport.pause();
    }
  }

  /** AUTHENTICATE without SASL-IR reads its response line from the held bytes. */
  private serveHeldLine(): void {
    if (!this.lineWaiter || !this.held) return;
    const all = Buffer.concat(this.held);
    const lf = all.indexOf(0x0a);
    if (lf < 0) return;
    this.held = [all.subarray(lf + 1)];
    this.heldBytes = all.length - lf - 1;
    const w = this.lineWaiter;
    this.lineWaiter = undefined;
    this.framer.rawLineMode = false;
    const end = lf > 0 && all[lf - 1] === 0x0d ? lf - 1 : lf;
    w(all.subarray(0, end).toString("utf8"));
  }

  /** The login command has been answered: relay the held bytes, or frame them here after a failure. */
  private releaseHeld(): void {
    const held = Buffer.concat(this.held ?? []);
    this.held = null;
    this.heldBytes = 0;
    if (this.state !== "not-authenticated" && this.opts.handoff) {
      const closed = this.relayedClose();
      this.closed = true;
      this.clearQueue();
      this.opts.handoff.start(held, closed);
      return;
    }
    if (this.readingPaused) {
      this.readingPaused = false;
      this.transport.resume?.();
    }
    if (held.length > 0) this.feed(held);
  }

  private framePiece(piece: Buffer): FramerEvent[] {
    const events: FramerEvent[] = [];
    let chunk = piece;
    while (this.framer.rawLineMode && chunk.length > 0) {
      const lf = chunk.indexOf(0x0a);
      const head = lf < 0 ? chunk : chunk.subarray(0, lf + 1);
      chunk = lf < 0 ? Buffer.alloc(0) : chunk.subarray(lf + 1);
      const evs = this.framer.push(head);
      if (evs.length > 0) {
        this.framer.rawLineMode = false;
        events.push(...evs);
      }
    }
    if (chunk.length > 0) events.push(...this.framer.push(chunk));
    return events;
  }

  private feedFramer(chunk: Buffer): void {
    // A raw line (DONE, a SASL response) ends at the first LF; whatever follows is commands again.
    while (this.framer.rawLineMode && chunk.length > 0) {
      const lf = chunk.indexOf(0x0a);
      const head = lf < 0 ? chunk : chunk.subarray(0, lf + 1);
      chunk = lf < 0 ? Buffer.alloc(0) : chunk.subarray(lf + 1);
      const events = this.framer.push(head);
      if (events.length > 0) {
        this.framer.rawLineMode = false;
        this.enqueue(events);
      }
    }
    if (chunk.length > 0) this.enqueue(this.framer.push(chunk));
  }

  private enqueue(events: FramerEvent[]): void {
    for (const ev of events) {
      if (this.lineWaiter && this.queue.length === 0) {
        const w = this.lineWaiter;
        this.lineWaiter = undefined;
        w(rawLine(ev));
      } else {
        this.queue.push(ev);
        this.queuedBytes += eventBytes(ev);
      }
    }
    const full = this.queue.length >= this.maxQueued || this.queuedBytes >= this.maxQueuedBytes;
    if (!this.readingPaused && full && this.transport.pause) {
      this.readingPaused = true;
      this.transport.pause();
    }
  }

  private dequeue(): FramerEvent | undefined {
    const ev = this.queue.shift();
    if (ev) this.queuedBytes -= eventBytes(ev);
    if (this.readingPaused && this.queue.length <= this.maxQueued / 2 && this.queuedBytes <= this.maxQueuedBytes / 2) {
      this.readingPaused = false;
      this.transport.resume?.();
    }
    return ev;
  }

  private clearQueue(): void {
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  private pump(): void {
    if (this.running || this.closed) return;
    this.running = true;
    void this.runQueue()
      .catch((err: unknown) => this.log.error({ err }, "command loop failed"))
      .finally(() => {
      this.running = false;
      // Input that arrived during the last await.
      if (this.queue.length > 0 && !this.closed && !this.lineWaiter) this.pump();
    });
  }

  private async runQueue(): Promise<void> {
    await this.ready;
    while (this.queue.length > 0 && !this.closed && this.state !== "logout") {
      const ev = this.dequeue()!;
      try {
        await this.process(ev);
      } catch (err) {
        this.log.error({ err }, "command failed outside its handler");
        this.writeLine(`${this.currentTag} NO [SERVERBUG] Internal error`);
      }
      // The held bytes start right after the login unit, the last one queued.
      if (this.held && this.queue.length === 0 && !this.closed) this.releaseHeld();
      if (this.writeBlocked) await this.drain();
    }
  }

  private async process(ev: FramerEvent): Promise<void> {
    const startedNs = process.hrtime.bigint();
    if (ev.type === "error") {
      this.currentTag = ev.tag ?? "*";
      if (ev.code === "TOOBIG" && ev.tag && ev.command === "APPEND") {
        this.writeLine(`${ev.tag} NO [TOOBIG] ${ev.message}`);
        this.commandDone(this.commandLabel(ev.command, false), "NO", startedNs);
      } else if (ev.code === "LINE" && !ev.tag) {
        this.writeLine("* BAD line too long");
      } else {
        this.writeLine(`${ev.tag ?? "*"} BAD ${ev.message}`);
        if (ev.tag) this.commandDone(this.commandLabel(ev.command ?? "", false), "BAD", startedNs);
      }
      return;
    }
    let cmd: ParsedCommand;
    try {
      cmd = parseCommand(ev.parts, ev.literalAt);
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.writeLine(`${err.tag ?? "*"} BAD ${oneLine(err.message)}`);
        if (err.tag) this.commandDone(this.commandLabel(commandOf(ev), false), "BAD", startedNs);
        return;
      }
      throw err;
    }
    this.currentTag = cmd.tag;
    if (this.heldReplies.length > 0 && !PIPELINED.has(cmd.name)) {
      await this.repliesSent();
      if (this.closed) return;
    }
    const started = Date.now();
    let held: Promise<Reply> | undefined;
    const reply = await this.dispatcher.dispatch(this.context, cmd, (r) => (held = this.writeTagged(cmd.tag, r, cmd.name)));
    const label = this.commandLabel(cmd.name, cmd.uid);
    // A held reply counts once it is sent, with the status it went out with.
    if (held) void held.then((sent) => this.commandDone(label, sent.status, startedNs));
    else this.commandDone(label, reply.status, startedNs);
    if (reply.status !== "OK" && !cmd.uid && LOGIN_COMMANDS.has(cmd.name)) {
      const reason = (reply.code?.split(" ")[0] ?? reply.status).toLowerCase();
      this.observe((o) => o.authFailed(reason));
    }
    const ms = Date.now() - started;
    // Name, tag, status and time only: arguments can hold passwords and message text.
    const fields = { tag: cmd.tag, command: this.commandLabel(cmd.name, cmd.uid), status: reply.status, ms };
    if (ms >= (this.opts.limits.slowCommandMs ?? Infinity)) this.log.warn(fields, "slow command");
    else this.log.debug(fields, "command");
  }

  // ---- output ----

  private write(data: Buffer | string): void {
    const last = this.heldReplies[this.heldReplies.length - 1];
    if (last) last.after.push(data);
    else this.send(data);
  }

  private send(data: Buffer | string): void {
    if (this.closed) return;
    if (this.transport.write(data) || this.writeBlocked || !this.transport.whenDrained) return;
    this.writeBlocked = true;
    this.transport.whenDrained().then(
      () => this.onDrain(),
      () => this.onDrain(),
    );
  }

  private writeLine(line: string): void {
    this.write(line + CRLF);
  }

  private writeUntagged(content: string | Buffer): void {
    if (typeof content === "string") this.writeLine(`* ${content}`);
    else this.write(Buffer.concat([Buffer.from("* "), content, Buffer.from(CRLF)]));
  }

  /** Writes the tagged reply, or holds it until its commit settles; then returns the reply that was sent. */
  private writeTagged(tag: string, r: Reply, command: string): Promise<Reply> | undefined {
    if (!r.durable) {
      this.writeLine(taggedLine(tag, r));
      return undefined;
    }
    const held: HeldReply = { after: [] };
    this.heldReplies.push(held);
    return r.durable
      .then(
        () => r,
        (err: unknown) => failureReply(err, this.log, command),
      )
      .then((sent) => {
        this.releaseReply(held, taggedLine(tag, sent));
        return sent;
      });
  }

  /** Sends every held reply whose commit has settled, in order, each with the output that followed it. */
  private releaseReply(held: HeldReply, line: string): void {
    held.line = line;
    while (this.heldReplies[0]?.line !== undefined) {
      const first = this.heldReplies.shift()!;
      // Its output came before the next held reply was made, so it goes out now.
      this.send(first.line + CRLF);
      for (const data of first.after) this.send(data);
    }
    if (this.heldReplies.length === 0) this.wakeRepliesSent();
  }

  private repliesSent(): Promise<void> {
    if (this.heldReplies.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.repliesSentWaiters.push(resolve));
  }

  private dropHeldReplies(): void {
    this.heldReplies = [];
    this.wakeRepliesSent();
  }

  private wakeRepliesSent(): void {
    const waiters = this.repliesSentWaiters;
    this.repliesSentWaiters = [];
    for (const w of waiters) w();
  }

  private drain(): Promise<void> {
    if (!this.writeBlocked || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  // ---- state ----

  private capabilityList(): string[] {
    return capabilities({
      authenticated: this.state !== "not-authenticated" || this.opts.preauthenticated !== undefined,
      secure: this.secure,
      canStartTls: this.opts.startTls !== undefined && !this.secure,
    });
  }

  private async enterAuthenticated(user: string): Promise<void> {
    if (!this.opts.preauthenticated) this.log = this.log.child({ user });
    if (this.opts.handoff && !this.opts.preauthenticated) await this.opts.handoff.open(user);
    else this.userStore = await this.opts.store.forUser(user);
    this.state = "authenticated";
  }

  private flushIdle(): void {
    if (!this.idling || !this.view || this.writeBlocked || this.closed) return;
    this.flushView(true);
  }

  private flushView(allowExpunge: boolean): void {
    const view = this.view;
    if (!view) return;
    view.flush((line) => this.writeUntagged(line), allowExpunge);
    if (view.gone) {
      // Dovecot does the same: the client's numbering cannot be kept any more.
      this.writeLine("* BYE Selected mailbox was deleted or its UIDVALIDITY changed, have to disconnect");
      this.endConnection();
    }
  }

  /**
   * The session as its command handlers see it, with its methods on the
   * prototype. As an object literal of some 25 closures built per command it
   * was the largest single allocation per command in a worker (8% of the
   * worker's allocations in the mixed bench, by a sampling heap profile);
   * kept per session in that form, it would cost each idle session about
   * 2 KB. Nothing in it depends on the command: a session runs one handler
   * at a time. Nested so that it may reach the session's private members.
   */
  private static readonly SessionContext = class implements CommandContext {
    constructor(private readonly s: ImapSession) {}

    get state(): SessionState {
      return this.s.state;
    }
    get secure(): boolean {
      return this.s.secure;
    }
    get log(): Logger {
      return this.s.log;
    }
    get store(): MailStore {
      return this.s.opts.store;
    }
    get user(): UserStore | undefined {
      return this.s.userStore;
    }
    get view(): SelectedView | undefined {
      return this.s.view;
    }
    get serverName(): string {
      return this.s.opts.serverName ?? "charon";
    }
    get maxAppendSize(): number {
      return this.s.opts.limits.maxAppendSize;
    }
    capabilities(): string[] {
      return this.s.capabilityList();
    }
    untagged(content: string | Buffer): void {
      this.s.writeUntagged(content);
    }
    continuation(text: string): void {
      this.s.writeLine(`+ ${text}`);
    }
    readLine(): Promise<string | null> {
      return this.s.readLine();
    }
    drain(): Promise<void> {
      return this.s.drain();
    }
    authenticate(user: string, password: string): Promise<boolean> {
      return this.s.opts.authenticate(user, password);
    }
    login(user: string): Promise<void> {
      return this.s.enterAuthenticated(user);
    }
    select(view: SelectedView): void {
      const s = this.s;
      s.closeView();
      s.view = view;
      s.state = "selected";
      view.onChange = () => {
        if (s.idling) queueMicrotask(() => s.flushIdle());
      };
    }
    deselect(): void {
      this.s.closeView();
      if (this.s.state === "selected") this.s.state = "authenticated";
    }
    flushUpdates(allowExpunge: boolean): void {
      this.s.flushView(allowExpunge);
    }
    startIdle(): void {
      this.s.idling = true;
      this.s.flushIdle();
    }
    stopIdle(): void {
      this.s.idling = false;
    }
    canStartTls(): boolean {
      return this.s.opts.startTls !== undefined && !this.s.secure;
    }
    async upgradeTls(): Promise<void> {
      const s = this.s;
      // RFC 3501 §6.2.1 / CVE-2011-0411: nothing sent in plaintext after STARTTLS may be acted on.
      s.clearQueue();
      s.framer = s.newFramer();
      try {
        await s.opts.startTls!();
      } catch (err) {
        // The plaintext stream is unusable after a failed handshake.
        s.log.info({ err }, "TLS negotiation failed");
        s.observe((o) => o.tlsHandshakeFailed?.());
        s.endConnection();
        return;
      }
      s.secure = true;
    }
    logout(): void {
      this.s.state = "logout";
      this.s.closeView();
    }
    closeConnection(): void {
      this.s.endConnection();
    }
  };

  private closeView(): void {
    this.view?.close();
    this.view = undefined;
  }

  /** A handed-off session's close, holding only the observer and not the session. */
  private relayedClose(): () => void {
    // Closed before the handoff (the client left during the login): its metrics are closed already.
    if (this.closed) return () => undefined;
    // Only the observer is captured: an idle relayed session must not keep its logger.
    // Whoever calls the closer logs a failure (Connection does, "session failed on close").
    const { observer } = this.opts;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      observer?.sessionClosed();
    };
  }

  // ---- observer (metrics) ----

  /** Calls the metrics observer; a broken observer is logged and never breaks IMAP. */
  private observe(call: (o: SessionObserver) => void): void {
    const observer = this.opts.observer;
    if (!observer) return;
    try {
      call(observer);
    } catch (err) {
      this.log.warn({ err }, "session observer failed");
    }
  }

  /** Bounded label: implemented commands by name ("UID FETCH" style), everything else "UNKNOWN". */
  private commandLabel(name: string | undefined, uid: boolean): string {
    const upper = (name ?? "").toUpperCase();
    if (!this.dispatcher.has(upper)) return "UNKNOWN";
    return uid ? `UID ${upper}` : upper;
  }

  private commandDone(label: string, status: CommandStatus, startedNs: bigint): void {
    if (!this.opts.observer) return;
    const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
    this.observe((o) => o.commandDone(label, status, seconds));
  }

  private readLine(): Promise<string | null> {
    if (this.closed) return Promise.resolve(null);
    const next = this.dequeue();
    if (next) return Promise.resolve(rawLine(next));
    this.framer.rawLineMode = true;
    const line = new Promise<string | null>((resolve) => {
      this.lineWaiter = (l) => {
        this.framer.rawLineMode = false;
        resolve(l);
      };
    });
    this.serveHeldLine();
    return line;
  }

}

function commandOf(ev: FramerEvent & { type: "unit" }): string {
  return (readTagAndCommand(ev.parts[0] ?? Buffer.alloc(0)).command ?? "").toUpperCase();
}

function eventBytes(ev: FramerEvent): number {
  if (ev.type === "error") return 0;
  let n = 0;
  for (const p of ev.parts) n += p.length;
  return n;
}

/** The text of a unit read as a raw line; a framing error stands for a line that cannot be valid. */
function rawLine(ev: FramerEvent): string {
  if (ev.type === "error") return "\u0000";
  return Buffer.concat(ev.parts).toString("utf8");
}

/** Reply text must never break the line structure. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\0]+/g, " ");
}

function taggedLine(tag: string, r: Reply): string {
  const code = r.code ? `[${r.code}] ` : "";
  return `${tag} ${r.status} ${code}${oneLine(r.text)}`;
}
