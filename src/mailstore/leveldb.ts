// The node's one LevelDB database: string keys, Buffer values. Callers encode
// JSON themselves so that blobs and serialized state need no second codec.

import { Level } from "level";

export type Db = Level<string, Buffer>;

export type BatchOp = { type: "put"; key: string; value: Buffer } | { type: "del"; key: string };

export async function openDb(dir: string): Promise<Db> {
  const db = new Level<string, Buffer>(dir, { keyEncoding: "utf8", valueEncoding: "buffer" });
  await db.open();
  return db;
}

export function jsonValue(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), "utf8");
}

export function parseJson<T>(buf: Buffer): T {
  return JSON.parse(buf.toString("utf8")) as T;
}
