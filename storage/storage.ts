// A storage node: a replica of every user. It serves a user's sessions while
// that user's home worker is down, and accepts links from workers and other
// storage nodes as well as from distributors (ALLOWED_PEERS in src/tls/mtls.ts).
import { startMailNode, type MailNodeOptions, type RunningMailNode } from "../src/node/mail-node";

export function startStorage(opts: Omit<MailNodeOptions, "role">): Promise<RunningMailNode> {
  return startMailNode({ ...opts, role: "storage" });
}
