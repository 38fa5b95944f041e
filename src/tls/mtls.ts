// Mutual TLS between cluster nodes. TLS 1.3 only; both ends present a leaf
// certificate issued by the cluster CA (ECDSA P-256, src/tls/certs.ts) that
// carries the node's role, and each listener accepts only the roles allowed
// on its link: a worker takes relayed sessions from distributors only.
import tls from "node:tls";
import { roleOf, type NodeRole, type PemKeyPair } from "./certs";

export const INTERNAL_TLS_VERSION: tls.SecureVersion = "TLSv1.3";

/**
 * Which peer roles a node of a given role accepts on its internal listener.
 * Workers: distributors only (issue 3: "Workers accept relayed sessions only
 * from distributors"). Storage: distributors (fallback sessions), workers and
 * storage nodes (replication). Distributors and admin tools listen for nobody.
 */
export const ALLOWED_PEERS: Readonly<Record<NodeRole, readonly NodeRole[]>> = Object.freeze({
  worker: Object.freeze(["distributor"] as NodeRole[]),
  storage: Object.freeze(["distributor", "worker", "storage"] as NodeRole[]),
  distributor: Object.freeze([] as NodeRole[]),
  admin: Object.freeze([] as NodeRole[]),
});

/** Options for the internal listener (tls.createServer): client certificate required and verified against the CA. */
export function internalServerOptions(pair: PemKeyPair, caPem: string | string[]): tls.TlsOptions {
  return {
    key: pair.key,
    cert: pair.cert,
    ca: caPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: INTERNAL_TLS_VERSION,
    maxVersion: INTERNAL_TLS_VERSION,
  };
}

/**
 * Options for connecting to another node (tls.connect; add host and port). The
 * server's certificate must chain to the CA. `servername` is checked against
 * the server certificate's altNames (a node's host, localhost, 127.0.0.1, ::1);
 * without it the host name check is skipped and identity rests on the CA and
 * the role (check it with peerIdentity / expectPeer).
 */
export function internalClientOptions(pair: PemKeyPair, caPem: string | string[], servername?: string): tls.ConnectionOptions {
  const opts: tls.ConnectionOptions = {
    key: pair.key,
    cert: pair.cert,
    ca: caPem,
    rejectUnauthorized: true,
    minVersion: INTERNAL_TLS_VERSION,
    maxVersion: INTERNAL_TLS_VERSION,
  };
  if (servername !== undefined) {
    // SNI must not be an IP address; the identity check still runs on it.
    if (!/^[\d.]+$/.test(servername) && !servername.includes(":")) opts.servername = servername;
    opts.checkServerIdentity = (_host, cert) => tls.checkServerIdentity(servername, cert);
  } else {
    opts.checkServerIdentity = () => undefined;
  }
  return opts;
}

export interface PeerIdentity {
  role: NodeRole;
  name: string;
}

/** The role and name in the peer's certificate, if the handshake verified it against the CA; else undefined. */
export function peerIdentity(socket: tls.TLSSocket): PeerIdentity | undefined {
  if (!socket.authorized) return undefined;
  const peer = socket.getPeerX509Certificate?.();
  if (!peer) return undefined;
  try {
    return roleOf(peer.toString());
  } catch {
    return undefined;
  }
}

export class PeerNotAllowedError extends Error {
  constructor(
    readonly localRole: NodeRole,
    readonly peer: PeerIdentity | undefined,
  ) {
    super(
      peer
        ? `a ${localRole} does not accept internal connections from a ${peer.role} (${peer.name})`
        : `internal peer has no verified cluster certificate with a role`,
    );
    this.name = "PeerNotAllowedError";
  }
}

/**
 * Checks the peer of an internal connection against ALLOWED_PEERS[localRole].
 * Returns the identity when allowed; otherwise throws PeerNotAllowedError, or
 * with `{ throwOnDeny: false }` returns false. The caller destroys the socket.
 */
export function assertPeerAllowed(localRole: NodeRole, socket: tls.TLSSocket): PeerIdentity;
export function assertPeerAllowed(localRole: NodeRole, socket: tls.TLSSocket, opts: { throwOnDeny: false }): PeerIdentity | false;
export function assertPeerAllowed(localRole: NodeRole, socket: tls.TLSSocket, opts: { throwOnDeny?: boolean } = {}): PeerIdentity | false {
  const peer = peerIdentity(socket);
  if (peer && ALLOWED_PEERS[localRole].includes(peer.role)) return peer;
  if (opts.throwOnDeny === false) return false;
  throw new PeerNotAllowedError(localRole, peer);
}

/**
 * For the connecting side: checks that the server we reached is the node we
 * meant (role and, if given, name). Returns the identity or throws.
 */
export function expectPeer(socket: tls.TLSSocket, role: NodeRole, name?: string): PeerIdentity {
  const peer = peerIdentity(socket);
  if (!peer || peer.role !== role || (name !== undefined && peer.name !== name)) {
    const got = peer ? `${peer.role}/${peer.name}` : "no verified role";
    throw new Error(`internal peer is ${got}, expected ${role}${name ? "/" + name : ""}`);
  }
  return peer;
}
