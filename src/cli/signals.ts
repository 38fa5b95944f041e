// Every long-running command stops the same way: the first SIGINT or SIGTERM
// closes the node (sessions get BYE, stores are flushed) and exits 0; a second
// signal exits at once.
import type { Logger } from "pino";
import { EXIT_FAILURE, EXIT_OK } from "./usage";

export interface Closable {
  close(): Promise<void>;
}

export function runUntilSignal(node: Closable, log: Logger): "running" {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, "second signal; exiting without waiting");
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    log.info({ signal }, "shutting down");
    node.close().then(
      () => process.exit(EXIT_OK),
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  return "running";
}
