// Password hashing on a few threads of its own, at a lower CPU priority.
// A burst of cold logins (every user's first LOGIN after a restart) or a
// password-guessing run costs tens of milliseconds of CPU per attempt. On
// libuv's thread pool that work competes as an equal with the event loop that
// relays the open sessions' commands, so on a small node every session slowed
// down until the burst was over. Here it only gets the CPU the sessions leave.
import { Worker } from "node:worker_threads";
import type { ScryptOptions } from "node:crypto";
import type { ScryptFunction } from "./password";

/** Added to the thread's nice value: 10 is the conventional "background work" step. */
const NICE_INCREMENT = 10;

// Plain JavaScript, evaluated by the thread, so the same code runs from dist/
// and from the TypeScript sources under vitest. On Linux setpriority() with
// pid 0 changes only the calling thread; elsewhere it would renice the whole
// process, so the priority is only lowered on Linux.
const THREAD_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { scryptSync } = require("node:crypto");
const os = require("node:os");
if (process.platform === "linux" && workerData.nice > 0) {
  try { os.setPriority(0, Math.min(19, os.getPriority(0) + workerData.nice)); } catch {}
}
parentPort.on("message", (job) => {
  try {
    const key = scryptSync(job.password, job.salt, job.keyLength, job.options);
    parentPort.postMessage({ key });
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) });
  }
});
`;

interface Job {
  password: string;
  salt: Buffer;
  keyLength: number;
  options: ScryptOptions;
  resolve: (key: Buffer) => void;
  reject: (err: Error) => void;
}

interface Thread {
  worker: Worker;
  job: Job | undefined;
  idleTimer?: NodeJS.Timeout;
}

/**
 * How long a thread with nothing to do is kept. Each holds a V8 isolate (about
 * 7 MB resident) that only bursts of cold logins need, and a burst keeps its
 * threads busy; a fresh thread starts in milliseconds, far less than one hash.
 */
const IDLE_THREAD_MS = 60_000;

/**
 * A pool of `size` threads; further calls queue. Threads start on first use,
 * hold the process open only while they have work, and end after `idleMs`
 * without any.
 */
export class ScryptThreads {
  private readonly threads: Thread[] = [];
  private readonly queue: Job[] = [];
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly nice = NICE_INCREMENT,
    private readonly idleMs = IDLE_THREAD_MS,
  ) {}

  readonly derive: ScryptFunction = (password, salt, keyLength, options) =>
    new Promise<Buffer>((resolve, reject) => {
      if (this.closed) return reject(new Error("password hashing is shut down"));
      this.queue.push({ password, salt, keyLength, options, resolve, reject });
      this.dispatch();
    });

  /** Threads started so far (at most `size`). */
  get threadCount(): number {
    return this.threads.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error("password hashing is shut down"));
    await Promise.all(this.threads.splice(0).map((t) => (clearTimeout(t.idleTimer), t.worker.terminate())));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const thread = this.threads.find((t) => t.job === undefined) ?? this.spawn();
      if (!thread) return;
      const job = this.queue.shift()!;
      clearTimeout(thread.idleTimer);
      thread.job = job;
      thread.worker.ref();
      thread.worker.postMessage({ password: job.password, salt: job.salt, keyLength: job.keyLength, options: job.options });
    }
  }

  private spawn(): Thread | undefined {
    if (this.threads.length >= this.size) return undefined;
    const thread: Thread = { worker: new Worker(THREAD_SOURCE, { eval: true, workerData: { nice: this.nice } }), job: undefined };
    thread.worker.on("message", (msg: { key?: Uint8Array; error?: string }) => {
      const job = thread.job;
      thread.job = undefined;
      thread.worker.unref();
      if (msg.key) job?.resolve(Buffer.from(msg.key.buffer, msg.key.byteOffset, msg.key.byteLength));
      else job?.reject(new Error(msg.error ?? "scrypt failed"));
      this.dispatch();
      if (thread.job === undefined) thread.idleTimer = setTimeout(() => this.retire(thread), this.idleMs).unref();
    });
    // A thread that dies takes only its own job with it; the next call starts a new one.
    const lost = (err: Error) => {
      const i = this.threads.indexOf(thread);
      if (i >= 0) this.threads.splice(i, 1);
      thread.job?.reject(err);
      thread.job = undefined;
      if (!this.closed) this.dispatch();
    };
    thread.worker.on("error", lost);
    thread.worker.on("exit", (code) => lost(new Error(`password hashing thread exited (${code})`)));
    this.threads.push(thread);
    return thread;
  }

  private retire(thread: Thread): void {
    const i = this.threads.indexOf(thread);
    if (i < 0 || thread.job !== undefined) return;
    this.threads.splice(i, 1);
    void thread.worker.terminate();
  }
}
