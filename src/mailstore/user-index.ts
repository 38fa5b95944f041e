// Which users have mail in this node's database: operators (and the cluster
// tests) ask a node what it holds, without trusting the routing to know.
import { PREFIX_END, unescapeKeyPart } from "./keys";
import type { Db } from "./leveldb";

/** Users with a snapshot or a logged op here, sorted. One seek per user, never a scan of their ops. */
export async function storedUsers(db: Db): Promise<string[]> {
  const users = new Set<string>();
  for (const kind of ["op", "snap"]) {
    const prefix = `${kind}!`;
    const it = db.iterator({ gt: prefix, lt: prefix + PREFIX_END, values: false });
    try {
      for (;;) {
        const entry = await it.next();
        if (!entry) break;
        const escaped = entry[0].slice(prefix.length).split("!")[0]!;
        users.add(unescapeKeyPart(escaped));
        // Skip the rest of this user's keys.
        it.seek(`${prefix}${escaped}!${PREFIX_END}`);
      }
    } finally {
      await it.close();
    }
  }
  return [...users].sort();
}
