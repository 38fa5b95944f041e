import path from "node:path";

/** Where a node keeps its state inside the data directory. */
export function dataPaths(dataDir: string) {
  return {
    tlsDir: path.join(dataDir, "tls"),
    usersFile: path.join(dataDir, "users.json"),
    storeDir: path.join(dataDir, "store"),
    replicaIdFile: path.join(dataDir, "replica-id"),
  };
}
