// Every long-running command stops the same way: the first SIGINT or SIGTERM
// closes the node (sessions get BYE, stores are flushed) and exits 0; a second
// signal exits at once.
import type { Logger } from "pino";
import { EXIT_FAILURE, EXIT_OK } from "./usage";

export interface Closable {
  close(): Promise<void>;
}

export interface StopSignals {
  /** Closes `node` at the first signal, at once if one came while it was starting. */
  runUntil(node: Closable): "running";
  /** Nothing to run after all (the start failed): the signals get their default action again. */
  release(): void;
}

/**
 * Catches the stop signals from before the node starts: a node prints its
 * ready line as soon as it serves, and a supervisor may signal it the moment
 * it reads that line. Without a handler in place the signal would kill the
 * process without closing the node.
 */
export function catchStopSignals(log: Logger): StopSignals {
  let node: Closable | undefined;
  let signalled: NodeJS.Signals | undefined;
  let stopping = false;
  const close = (n: Closable, signal: NodeJS.Signals) => {
    stopping = true;
    log.info({ signal }, "shutting down");
    n.close().then(
      () => process.exit(EXIT_OK),
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(EXIT_FAILURE);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping || signalled) {
      log.warn({ signal }, "second signal; exiting without waiting");
      process.exit(EXIT_FAILURE);
    }
    if (node) close(node, signal);
    else signalled = signal;
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    runUntil(n) {
      node = n;
      if (signalled) close(n, signalled);
      return "running";
    },
    release() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      // A signal that came during the failed start still asks the process to end.
      if (signalled) process.exit(EXIT_FAILURE);
    },
  };
}
