// A worker: the home of the users that rendezvous hashing gives it. It accepts
// relayed sessions only from distributors (ALLOWED_PEERS in src/tls/mtls.ts).
import { startMailNode, type MailNodeOptions, type RunningMailNode } from "../src/node/mail-node";

export function startWorker(opts: Omit<MailNodeOptions, "role">): Promise<RunningMailNode> {
  return startMailNode({ ...opts, role: "worker" });
}
