import { ImapFlow } from "imapflow";
import type { RunningServer } from "./server";

export function imapflowClient(srv: RunningServer, user = "alice", pass = "secret1", opts: { secure?: boolean } = {}): ImapFlow {
  const secure = opts.secure ?? true;
  return new ImapFlow({
    host: srv.host,
    port: secure ? srv.imapsPort : srv.imapPort,
    secure,
    servername: "localhost",
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: 10_000,
    greetingTimeout: 5_000,
    socketTimeout: 30_000,
  });
}

export async function connected(srv: RunningServer, user = "alice", pass = "secret1"): Promise<ImapFlow> {
  const c = imapflowClient(srv, user, pass);
  // Unhandled 'error' events would crash the test worker instead of failing one test.
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

/** Every mailbox's (or only those named) UIDVALIDITY, UIDNEXT and messages, to compare before and after. */
export type MailboxSnapshot = Array<{ path: string; uidValidity: string; uidNext: number; msgs: Array<{ uid: number; flags: string[]; size: number }> }>;

export async function snapshot(c: ImapFlow, only?: string[]): Promise<MailboxSnapshot> {
  const out: MailboxSnapshot = [];
  const boxes = (await c.list()).map((m) => m.path).sort();
  for (const box of only ?? boxes) {
    const mb = await c.mailboxOpen(box, { readOnly: true });
    const msgs = mb.exists === 0 ? [] : await c.fetchAll("1:*", { uid: true, flags: true, size: true });
    out.push({ path: box, uidValidity: String(mb.uidValidity), uidNext: mb.uidNext, msgs: msgs.map((m) => ({ uid: m.uid, flags: storedFlags(m), size: m.size! })) });
  }
  return out;
}

/** A message's flags without \Recent, which is per session (RFC 3501 §2.3.2), sorted. */
export function storedFlags(msg: { flags?: Set<string> } | false): string[] {
  if (!msg) throw new Error("message not found");
  return [...(msg.flags ?? [])].filter((f) => f !== "\\Recent").sort();
}

export async function closeQuietly(c: ImapFlow | undefined): Promise<void> {
  if (!c) return;
  try {
    await Promise.race([c.logout(), new Promise((r) => setTimeout(r, 3_000))]);
  } catch {
    // already gone
  }
  c.close();
}

/** Resolves with the first emitted event matching `pred`, rejects after timeoutMs. */
export function waitForEvent<T>(c: ImapFlow, event: string, pred: (e: T) => boolean, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const onEvent = (e: T) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      c.off(event, onEvent);
      resolve(e);
    };
    const timer = setTimeout(() => {
      c.off(event, onEvent);
      reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    c.on(event, onEvent);
  });
}

export async function streamToBuffer(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}
