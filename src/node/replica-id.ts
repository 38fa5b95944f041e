// The replica id of a node's mail store.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { dataPaths } from "../config/paths";

/**
 * The replica id must survive restarts: op ids are (replica, seq), and a new
 * id for old data would look like a second replica to the CRDTs.
 */
export async function replicaIdFor(dataDir: string): Promise<string> {
  const file = dataPaths(dataDir).replicaIdFile;
  try {
    const id = (await fs.readFile(file, "utf8")).trim();
    if (/^[A-Za-z0-9_-]{4,64}$/.test(id)) return id;
    throw new Error(`${file} does not hold a valid replica id`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const id = `r${randomBytes(8).toString("hex")}`;
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  await fs.writeFile(file, id + "\n", { flag: "wx", mode: 0o644 });
  return id;
}
