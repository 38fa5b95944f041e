// The CAPABILITY list (RFC 3501 §7.2.1) for each point of a session.

export const BASE_CAPABILITIES = [
  "IMAP4rev1",
  "LITERAL+",
  "SASL-IR",
  "ID",
  "ENABLE",
  "IDLE",
  "NAMESPACE",
  "UIDPLUS",
  "MOVE",
  "UNSELECT",
  "CHILDREN",
  "SPECIAL-USE",
] as const;

export interface CapabilityState {
  authenticated: boolean;
  /** The connection is already TLS (implicit TLS, or after STARTTLS). */
  secure: boolean;
  /** STARTTLS can be offered (the transport knows how to upgrade). */
  canStartTls: boolean;
}

export function capabilities(s: CapabilityState): string[] {
  const caps: string[] = [...BASE_CAPABILITIES];
  // After login the client has nothing left to negotiate (RFC 3501 §6.2.1, RFC 4959).
  if (s.authenticated) return caps;
  if (s.secure) {
    caps.push("AUTH=PLAIN");
  } else {
    // Passwords never cross an unencrypted connection (RFC 3501 §6.2.3, RFC 8314).
    if (s.canStartTls) caps.push("STARTTLS");
    caps.push("LOGINDISABLED");
  }
  return caps;
}
