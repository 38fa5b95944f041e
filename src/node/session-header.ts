// The header a distributor sends when it opens a relayed session on a mail
// node: who logged in, and which client session this is (for the logs).
export const SESSION_STREAM = "session";

export interface SessionHeader {
  user: string;
  /** The distributor's session id, so both nodes' log lines can be joined. */
  session?: string;
  client?: string;
}

export function sessionHeader(h: SessionHeader): Record<string, unknown> {
  return { kind: SESSION_STREAM, ...h };
}

export function parseSessionHeader(h: Record<string, unknown>): SessionHeader | undefined {
  if (typeof h.user !== "string" || h.user.length === 0 || h.user.length > 255) return undefined;
  return {
    user: h.user,
    session: typeof h.session === "string" ? h.session.slice(0, 64) : undefined,
    client: typeof h.client === "string" ? h.client.slice(0, 64) : undefined,
  };
}
