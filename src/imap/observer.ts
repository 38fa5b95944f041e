// What a session reports about itself, for metrics. The session calls these
// synchronously; an observer must be cheap and must not throw (the session
// guards every call anyway, so a broken observer cannot break IMAP).

export type CommandStatus = "OK" | "NO" | "BAD";

export interface SessionObserver {
  /** Once, when the session is created. */
  sessionOpened(): void;
  /** Once, when the connection is gone (also for a session handed off to a relay, when the relay ends). */
  sessionClosed(): void;
  /**
   * After every tagged response. `name` is upper-case, `UID FETCH` style for
   * UID commands, and "UNKNOWN" for anything the server does not implement,
   * so label cardinality stays bounded.
   */
  commandDone(name: string, status: CommandStatus, seconds: number): void;
  /** A LOGIN or AUTHENTICATE that did not log in; `reason` is a short lower-case token (response code or "bad"). */
  authFailed(reason: string): void;
  /** STARTTLS negotiation failed. Optional: implicit-TLS failures are counted by the listener. */
  tlsHandshakeFailed?(): void;
}
