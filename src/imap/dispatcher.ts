// The one place that decides whether a command may run: it looks the command
// up, checks the session state, parses the arguments, runs the handler, sends
// the mailbox updates the command allows (RFC 3501 §7.4.1) and finally the
// tagged completion. Handlers only ever see well-formed arguments.

import type { Logger } from "pino";
import type { SelectedView } from "./selected-view";
import { StoreError, type MailStore, type UserStore } from "./store-port";
import { ProtocolError } from "./tokenizer";
import type { ParsedCommand, SessionState, Token } from "./types";

/** The tagged completion of a command. */
export interface Reply {
  status: "OK" | "NO" | "BAD";
  /** Response code without brackets, e.g. `APPENDUID 38505 3955`. */
  code?: string;
  text: string;
  /** Runs after the tagged line is written (STARTTLS upgrade, LOGOUT close). */
  after?: () => Promise<void> | void;
  /**
   * The command's change is applied but still being written: the tagged line
   * waits for this (a rejection turns it into NO), while the session may run
   * the client's next pipelined commands and hold their output behind it.
   */
  durable?: Promise<void>;
}

/** `reply`, to be sent once `durable` (if any) has settled. */
export function afterCommit(reply: Reply, durable: Promise<void> | undefined): Reply {
  return durable ? { ...reply, durable } : reply;
}

export const ok = (text: string, code?: string): Reply => (code ? { status: "OK", code, text } : { status: "OK", text });
export const no = (text: string, code?: string): Reply => (code ? { status: "NO", code, text } : { status: "NO", text });
export const bad = (text: string, code?: string): Reply => (code ? { status: "BAD", code, text } : { status: "BAD", text });

/**
 * Which pending mailbox changes may be sent when the command ends.
 * "no-expunge": FETCH, STORE, SEARCH (and UID forms) — EXISTS and FLAGS yes, EXPUNGE held.
 */
export type UpdatePolicy = "all" | "no-expunge" | "none";

/** What a handler can do to its session. Implemented by ImapSession, one per session. */
export interface CommandContext {
  readonly state: SessionState;
  readonly secure: boolean;
  readonly log: Logger;
  readonly store: MailStore;
  /** Set once authenticated. */
  readonly user: UserStore | undefined;
  /** Set while a mailbox is selected. */
  readonly view: SelectedView | undefined;
  readonly serverName: string;
  readonly maxAppendSize: number;
  capabilities(): string[];
  /** Writes `* <content>\r\n`; content may hold literals, hence Buffer. */
  untagged(content: string | Buffer): void;
  /** Writes `+ <text>\r\n`. */
  continuation(text: string): void;
  /** The next line from the client, raw (AUTHENTICATE responses, IDLE's DONE); null once the connection is gone. */
  readLine(): Promise<string | null>;
  /** Resolves when the transport can take more output. */
  drain(): Promise<void>;
  /** Checks a password through the session's authenticator. */
  authenticate(user: string, password: string): Promise<boolean>;
  /** Enters the authenticated state for `user`. */
  login(user: string): Promise<void>;
  /** Makes `view` the selected mailbox (closing any previous one). */
  select(view: SelectedView): void;
  /** Back to the authenticated state; closes the selected mailbox. */
  deselect(): void;
  /** Sends the pending mailbox changes now, as the policy allows. */
  flushUpdates(allowExpunge: boolean): void;
  /** IDLE: from now on, send mailbox changes as they happen. */
  startIdle(): void;
  stopIdle(): void;
  /** STARTTLS: drops whatever the client sent after the command, then upgrades. */
  upgradeTls(): Promise<void>;
  canStartTls(): boolean;
  /** LOGOUT: the state becomes logout and the connection ends after the tagged reply. */
  logout(): void;
  /** Ends the connection (after LOGOUT's tagged OK). */
  closeConnection(): void;
}

export interface CommandSpec<A = unknown> {
  /** Upper-case command name as the client sends it. */
  name: string;
  states: readonly SessionState[];
  /** Accepts the `UID` prefix (UID FETCH ...). */
  uid?: boolean;
  /** Default "all". */
  updates?: UpdatePolicy;
  /** Leaves the selected state before parsing, so even a malformed attempt deselects (SELECT, EXAMINE: RFC 3501 §6.3.1). */
  deselectsFirst?: boolean;
  /** Turns raw tokens into the handler's arguments; throws ProtocolError on malformed input. */
  parse(args: Token[], uid: boolean): A;
  handle(ctx: CommandContext, args: A): Promise<Reply>;
}

/** Erases the argument type so specs of every command fit in one table. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommandSpec = CommandSpec<any>;

const ANY_STATE: readonly SessionState[] = ["not-authenticated", "authenticated", "selected"];
export const AUTHENTICATED: readonly SessionState[] = ["authenticated", "selected"];
export const SELECTED: readonly SessionState[] = ["selected"];
export const NOT_AUTHENTICATED: readonly SessionState[] = ["not-authenticated"];
export { ANY_STATE };

/** Maps a store refusal to NO [CODE]. */
export function storeErrorReply(err: StoreError): Reply {
  if (err.code === "SERVERBUG") return no("Internal error, try again later", "SERVERBUG");
  return no(err.message, err.code);
}

/** NO for a store refusal or a failed handler (or commit); logs what is the server's fault. */
export function failureReply(err: unknown, log: Logger, command: string): Reply {
  if (err instanceof StoreError) {
    if (err.code === "SERVERBUG") log.error({ err, command }, "store failure");
    return storeErrorReply(err);
  }
  log.error({ err, command }, "command handler failed");
  return no("Internal error", "SERVERBUG");
}

function wrongState(state: SessionState, spec: AnyCommandSpec): Reply {
  if (state === "not-authenticated") return bad("Log in first");
  if (spec.states.includes("not-authenticated") && !spec.states.includes("authenticated")) {
    return bad("Already authenticated");
  }
  if (state === "selected") return bad("Not allowed while a mailbox is selected");
  return bad("No mailbox selected");
}

/** Command names echoed in replies must not carry anything a client could use to forge a line. */
function printable(name: string): string {
  return name.replace(/[^\x21-\x7e]/g, "?").slice(0, 40);
}

export class Dispatcher {
  private readonly specs = new Map<string, AnyCommandSpec>();

  constructor(specs: readonly AnyCommandSpec[]) {
    for (const s of specs) {
      if (this.specs.has(s.name)) throw new Error(`command ${s.name} registered twice`);
      this.specs.set(s.name, s);
    }
  }

  has(name: string): boolean {
    return this.specs.has(name);
  }

  /** Runs one command; returns the tagged reply, handed to `writeTagged` (which holds it back while `reply.durable` is pending). */
  async dispatch(ctx: CommandContext, cmd: ParsedCommand, writeTagged: (r: Reply) => void): Promise<Reply> {
    const reply = await this.run(ctx, cmd);
    writeTagged(reply);
    if (reply.after) await reply.after();
    return reply;
  }

  private async run(ctx: CommandContext, cmd: ParsedCommand): Promise<Reply> {
    const spec = this.specs.get(cmd.name);
    if (!spec || (cmd.uid && !spec.uid)) {
      return bad(`Unknown command ${cmd.uid ? "UID " : ""}${printable(cmd.name)}`);
    }
    if (!spec.states.includes(ctx.state)) return wrongState(ctx.state, spec);

    if (spec.deselectsFirst) ctx.deselect();
    let args: unknown;
    try {
      args = spec.parse(cmd.args, cmd.uid);
    } catch (err) {
      return protocolReply(err, ctx, cmd);
    }

    let reply: Reply;
    try {
      reply = await spec.handle(ctx, args);
    } catch (err) {
      reply = err instanceof ProtocolError ? protocolReply(err, ctx, cmd) : failureReply(err, ctx.log, cmd.name);
    }

    const policy = spec.updates ?? "all";
    if (policy !== "none" && ctx.view) ctx.flushUpdates(policy === "all");
    return reply;
  }
}

function protocolReply(err: unknown, ctx: CommandContext, cmd: ParsedCommand): Reply {
  if (err instanceof ProtocolError) {
    // RFC 3501 §6.4.4: an unsupported charset is NO [BADCHARSET], not a syntax error.
    if (err.code === "BADCHARSET" && !err.responseCode) return no(err.message, "BADCHARSET (UTF-8 US-ASCII)");
    const r: Reply = { status: err.status, text: err.message };
    if (err.responseCode) r.code = err.responseCode;
    return r;
  }
  ctx.log.error({ err, command: cmd.name }, "argument parser failed");
  return bad("Invalid arguments");
}
