// Message bodies, stored once per SHA-256 and shared by every message that
// refers to them (COPY and MOVE add no blob), and the parsed MIME structure
// of each body so a body is parsed once, at APPEND. Bodies are written in the
// same synchronous batch as the op that first refers to them; until that
// batch is on disk they are served from memory.

import { createHash } from "node:crypto";
import type { MimeNode } from "../mime/types";
import { keys } from "./keys";
import { jsonValue, parseJson, type BatchOp, type Db } from "./leveldb";
import { BoundedMap } from "../util/bounded-map";

export function sha256Hex(body: Buffer): string {
  return createHash("sha256").update(body).digest("hex");
}

export class BlobStore {
  private readonly pendingBlobs = new Map<string, { body: Buffer | undefined; refs: number }>();
  private readonly pendingMime = new Map<string, MimeNode>();
  /** Small cache of parsed structures; FETCH of one message usually asks several times. */
  private readonly mimeCache = new BoundedMap<string, MimeNode>(2048);
  /**
   * Bodies written lately, kept after their batch is on disk (oldest out past
   * the byte limit): replication ships each new body to every peer right
   * after the write, and clients FETCH new mail first. Reading them back from
   * LevelDB queued behind the writes on libuv's pool and put up to 270 ms
   * into the replication lag at a write peak.
   */
  private readonly recent: BoundedMap<string, Buffer>;

  constructor(
    private readonly db: Db,
    private readonly recentLimitBytes = 16 * 1024 * 1024,
  ) {
    this.recent = new BoundedMap(recentLimitBytes, (b) => b.length);
  }

  /**
   * Batch entries that store a body and/or its MIME tree. Both stay readable
   * from memory until `settle(sha)` is called after the batch is written.
   */
  stage(sha: string, body: Buffer | undefined, mime: MimeNode | undefined): BatchOp[] {
    const ops: BatchOp[] = [];
    const p = this.pendingBlobs.get(sha);
    if (p) p.refs += 1;
    else this.pendingBlobs.set(sha, { body, refs: 1 });
    if (body) {
      if (p && !p.body) p.body = body;
      ops.push({ type: "put", key: keys.blob(sha), value: body });
    }
    if (mime) {
      this.pendingMime.set(sha, mime);
      ops.push({ type: "put", key: keys.mime(sha), value: jsonValue(mime) });
    }
    return ops;
  }

  /** Called once the batch holding `stage(sha)` has been written (or failed). */
  settle(sha: string): void {
    const p = this.pendingBlobs.get(sha);
    if (p && --p.refs <= 0) {
      this.pendingBlobs.delete(sha);
      // A body bigger than an eighth of the cache would push out many small new ones.
      if (p.body && p.body.length <= this.recentLimitBytes / 8) this.recent.set(sha, p.body);
      const mime = this.pendingMime.get(sha);
      if (mime) this.mimeCache.set(sha, mime);
      this.pendingMime.delete(sha);
    }
  }

  async has(sha: string): Promise<boolean> {
    if (this.pendingBlobs.get(sha)?.body || this.recent.has(sha)) return true;
    return (await this.db.get(keys.blob(sha))) !== undefined;
  }

  async get(sha: string): Promise<Buffer | undefined> {
    return this.pendingBlobs.get(sha)?.body ?? this.recent.get(sha) ?? this.db.get(keys.blob(sha));
  }

  async getMime(sha: string): Promise<MimeNode | undefined> {
    const m = this.pendingMime.get(sha) ?? this.mimeCache.get(sha);
    if (m) return m;
    const raw = await this.db.get(keys.mime(sha));
    if (raw === undefined) return undefined;
    const node = parseJson<MimeNode>(raw);
    this.mimeCache.set(sha, node);
    return node;
  }

  /** Stores a structure parsed after the fact (blob arrived by replication); no fsync needed, it can be rebuilt. */
  async putMime(sha: string, node: MimeNode): Promise<void> {
    this.mimeCache.set(sha, node);
    await this.db.put(keys.mime(sha), jsonValue(node));
  }
}
