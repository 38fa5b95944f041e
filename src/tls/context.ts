import tls from "node:tls";
import type { PemKeyPair } from "./certs";

/** TLS 1.2 is the floor: RFC 8996 deprecated 1.0 and 1.1, and every current mail client has 1.2. */
export const MIN_TLS_VERSION: tls.SecureVersion = "TLSv1.2";

export interface ServerTlsOptions {
  /** For mutual TLS between nodes: trust anchors that client certificates must chain to. */
  ca?: string | string[];
}

export function serverTlsOptions(pair: PemKeyPair, opts: ServerTlsOptions = {}): tls.SecureContextOptions {
  return {
    key: pair.key,
    cert: pair.cert,
    minVersion: MIN_TLS_VERSION,
    ...(opts.ca ? { ca: opts.ca } : {}),
  };
}

/** The context for STARTTLS upgrades (new tls.TLSSocket); tls.createServer takes serverTlsOptions instead. */
export function createServerContext(pair: PemKeyPair, opts: ServerTlsOptions = {}): tls.SecureContext {
  return tls.createSecureContext(serverTlsOptions(pair, opts));
}
