// Linux scheduling of a node's event-loop thread (config `scheduling`).
//
// The nodes of one cluster often share cores (`charon dev`, Minikube), and each
// command passes distributor -> worker -> distributor, with ops on to storage.
// Under the normal policy every socket write that wakes the next node lets the
// woken node preempt the writer in the middle of its event-loop turn; the
// writer's other sessions then wait for the CPU. SCHED_BATCH (sched(7):
// "without interactivity causing extra preemptions between the workload's
// tasks") keeps a woken node from preempting: it runs when the current task
// finishes its turn and sleeps, or its slice ends. It needs no privilege.
//
// Only the event-loop thread changes. libuv's pool threads keep the normal
// policy: they finish LevelDB fsyncs, and a STORE's reply waits for them
// (all threads batch: STORE p99 13.7-14.1 ms against 12.0-12.2 at 10 mixed
// clients; the event loop alone: 11.2-11.8). Threads inherit the policy of
// the thread that creates them, so the pool must exist first. Every role has
// started it by now (certificate files, LevelDB); the fs call below makes
// sure of it rather than rely on that.
import { execFile } from "node:child_process";
import { promises as fs, readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { SchedulingPolicy } from "../config/schema";

/** Linux policy numbers (sched.h), as /proc/PID/task/TID/stat field 41 shows them. */
export const SCHED_OTHER = 0;
export const SCHED_BATCH = 3;

/** The policy field of a /proc/.../stat line (the fields after "(comm)" start at field 3). */
export function policyFromStat(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const policy = Number(fields[41 - 3]);
  if (!Number.isInteger(policy)) throw new Error(`no policy field in ${JSON.stringify(stat.slice(0, 80))}`);
  return policy;
}

/** The policy of one thread (the event-loop thread's id is the process id). */
export function threadPolicy(pid: number, tid = pid): number {
  return policyFromStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8"));
}

export type RunCommand = (file: string, args: string[]) => Promise<void>;

const runCommand: RunCommand = (file, args) =>
  new Promise((resolve, reject) => execFile(file, args, { timeout: 5_000 }, (err) => (err ? reject(err) : resolve())));

/**
 * Applies `policy` to this process's event-loop thread. A host without
 * chrt(1) (util-linux) or /proc keeps the normal policy, with a warning:
 * scheduling is a speed matter, never a reason not to serve.
 */
export async function applyScheduling(policy: SchedulingPolicy, log: Logger, run: RunCommand = runCommand): Promise<SchedulingPolicy> {
  if (policy === "normal") return "normal";
  if (process.platform !== "linux") {
    log.debug({ platform: process.platform }, "SCHED_BATCH is Linux's; the event loop keeps the normal policy");
    return "normal";
  }
  try {
    // An asynchronous fs call starts libuv's pool (all its threads at once) if nothing has yet.
    await fs.access(process.execPath);
    await run("chrt", ["--batch", "--pid", "0", String(process.pid)]);
    if (threadPolicy(process.pid) !== SCHED_BATCH) throw new Error("chrt succeeded but the policy did not change");
    log.info({ scheduling: "batch" }, "event loop scheduled as SCHED_BATCH");
    return "batch";
  } catch (err) {
    log.warn({ err: (err as Error).message }, "could not set SCHED_BATCH; the event loop keeps the normal policy");
    return "normal";
  }
}
