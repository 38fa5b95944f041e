// The IMAP listener of a node that holds mail: every connection runs the
// IMAP engine (src/imap/session.ts) against the local store.
import type { Logger } from "pino";
import type { Limits } from "../config/limits";
import { ImapSession } from "../imap/session";
import type { SessionObserver } from "../imap/observer";
import type { MailStore } from "../imap/store-port";
import type { PemKeyPair } from "../tls/certs";
import { SessionListener } from "./listener";

export * from "./listener";

export interface ImapListenerOptions {
  store: MailStore;
  authenticate(user: string, password: string): Promise<boolean>;
  tls: PemKeyPair;
  log: Logger;
  limits?: Partial<Limits>;
  serverName?: string;
  /** Metrics hooks (src/metrics: `metrics.sessionObserver()`, `metrics.tlsHandshakeFailed`). */
  observer?: SessionObserver;
  onTlsHandshakeFailure?: () => void;
}

export class ImapListener extends SessionListener {
  constructor(opts: ImapListenerOptions) {
    super({
      tls: opts.tls,
      log: opts.log,
      limits: opts.limits,
      observer: opts.observer,
      onTlsHandshakeFailure: opts.onTlsHandshakeFailure,
      createSession: (transport, session, limits) =>
        new ImapSession(transport, {
          ...session,
          store: opts.store,
          authenticate: opts.authenticate,
          limits,
          serverName: opts.serverName,
        }),
    });
  }
}
