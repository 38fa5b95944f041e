// For tests that need a whole server on loopback: the real ImapListener and
// IMAP engine over a real LevelDB store and user directory, in a temporary
// directory that close() removes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { UserDirectory } from "../auth/user-directory";
import { silentLogger } from "../log/logger";
import { createMailStore } from "../mailstore";
import { createSelfSigned } from "../tls/certs";
import { ImapListener, type BoundEndpoints, type ImapListenerOptions } from "./imap-listener";

export interface TestListener {
  listener: ImapListener;
  /** Both ports: implicit TLS and plain with STARTTLS. */
  bound: BoundEndpoints;
  users: UserDirectory;
  storeDir: string;
  close(): Promise<void>;
}

/** Starts a listener whose directory holds `users` (name → password), hashed with a cheap scrypt. */
export async function startTestListener(
  users: Record<string, string>,
  opts: Pick<ImapListenerOptions, "observer" | "onTlsHandshakeFailure" | "limits"> = {},
): Promise<TestListener> {
  const dir = mkdtempSync(path.join(tmpdir(), "charon-listener-"));
  const directory = await UserDirectory.open(path.join(dir, "users.json"), { scrypt: { N: 1024, r: 8, p: 1 } });
  for (const [name, password] of Object.entries(users)) await directory.addUser(name, password);
  const storeDir = path.join(dir, "store");
  const store = await createMailStore({ dir: storeDir, replicaId: "test1", maxMessageSize: 1 << 20 });
  const listener = new ImapListener({
    ...opts,
    store,
    authenticate: (u, p) => directory.verify(u, p),
    tls: await createSelfSigned(),
    log: silentLogger(),
  });
  const bound = await listener.listen({ imaps: { port: 0 }, imap: { port: 0 } });
  return {
    listener,
    bound,
    users: directory,
    storeDir,
    async close() {
      await listener.close();
      await store.close();
      await directory.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
