// Several sessions of one user share INBOX through real ImapSessions over a
// real LevelDB store. A seeded scheduler pipelines FETCH, STORE (silent or
// not), APPEND, EXPUNGE, COPY, MOVE, SELECT and NOOP into them without
// waiting, so commits and body loads interleave, and sends some sessions
// into IDLE. At checkpoints every session NOOPs, and its client's picture
// (ModelClient, built only from responses) must match the mailbox as a fresh
// session sees it: the same messages in order, the flags it was told, every
// keyword. An idling client must match before it ends IDLE, from what was
// pushed to it alone. imaptest's checkpoints check the same across
// processes; here a failure names a seed to replay (CHARON_TEST_SCHEDULES=N
// runs N schedules):
//   CHARON_TEST_SEED=<seed> npx vitest run verification/session-views.test.ts
import { afterEach, describe, expect, it, vi } from "vitest";
import { harness, appendLine, sampleMessage, type Client, type Harness } from "../src/imap/session-test-support";
import { SelectedView } from "../src/imap/selected-view";
import { mulberry32 } from "../src/util/mulberry32";
import { ResponseParser } from "../bench/client/parser";
import { ModelClient } from "./session-model";

const SCHEDULES = Number(process.env.CHARON_TEST_SCHEDULES ?? 100);
const STEPS = 120;
const replay = process.env.CHARON_TEST_SEED ? Number(process.env.CHARON_TEST_SEED) : undefined;
const base = replay ?? Math.floor(Math.random() * 1e9);

const SYSTEM = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft"];
const KEYWORDS = ["$A", "$B", "$Label3"];

class Driver {
  readonly model: ModelClient;
  private readonly parser = new ResponseParser((r) => {
    const done = this.model.apply(r.text);
    if (done) this.waiting.delete(done.tag);
  });
  private read = 0;
  private next = 1;
  readonly waiting = new Set<string>();
  /** The tag of an IDLE not yet ended: its reply comes only after DONE, so settle() does not wait for it. */
  idleTag: string | undefined;

  constructor(
    readonly name: string,
    private readonly client: Client,
  ) {
    this.model = new ModelClient(name);
  }

  send(command: string): void {
    this.client.send(`${this.tag()} ${command}\r\n`);
  }

  /** APPEND to INBOX as a literal+, so it pipelines like any other command. */
  append(flags: string, subject: string): void {
    this.client.send(appendLine(this.tag(), "INBOX", sampleMessage(subject), flags));
  }

  /** Enters IDLE: from now on the client learns of changes without asking. */
  idle(): void {
    this.idleTag = this.newTag();
    this.client.send(`${this.idleTag} IDLE\r\n`);
  }

  done(): void {
    this.waiting.add(this.idleTag!);
    this.idleTag = undefined;
    this.client.send("DONE\r\n");
  }

  /** A tag for a command whose reply settle() waits for. */
  private tag(): string {
    const tag = this.newTag();
    this.waiting.add(tag);
    return tag;
  }

  private newTag(): string {
    return `${this.name}${this.next++}`;
  }

  /** Feeds the model what the server wrote since the last call. */
  pump(): void {
    const { chunks } = this.client.transport;
    while (this.read < chunks.length) this.parser.push(chunks[this.read++]!);
  }
}

async function settle(drivers: Driver[]): Promise<void> {
  for (let i = 0; i < 200_000; i++) {
    for (const d of drivers) d.pump();
    if (drivers.every((d) => d.waiting.size === 0)) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`no answer to ${drivers.flatMap((d) => [...d.waiting]).join(", ")}`);
}

/** The mailbox as a fresh session sees it. */
async function observe(h: Harness): Promise<ModelClient> {
  const observer = new Driver("obs", await h.login());
  observer.send("EXAMINE INBOX");
  observer.send("UID FETCH 1:* (FLAGS)");
  await settle([observer]);
  observer.send("LOGOUT");
  await settle([observer]);
  return observer.model;
}

async function checkpoint(h: Harness, drivers: Driver[], at: string): Promise<string[]> {
  await settle(drivers);
  const problems: string[] = [];
  // An idling client must already know everything, without a command to carry it (RFC 2177).
  const idlers = drivers.filter((d) => d.idleTag !== undefined);
  if (idlers.length > 0) {
    const beforeDone = await observe(h);
    for (const d of drivers) d.pump();
    for (const d of idlers) problems.push(...d.model.differences(beforeDone).map((p) => `${p} (while idling)`));
    stats.idleCompared += idlers.length;
    for (const d of idlers) d.done();
  }
  for (const d of drivers) d.send("NOOP");
  await settle(drivers);
  const truth = await observe(h);
  stats.checkpoints++;
  for (const d of drivers) stats.flagsCompared += d.model.entries.filter((e) => e.flags).length;
  problems.push(...drivers.flatMap((d) => d.model.differences(truth)), ...drivers.flatMap((d) => d.model.problems), ...truth.problems);
  return problems.map((p) => `${at}: ${p}`);
}

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)]!;
}

function someFlags(rnd: () => number): string[] {
  const all = [...SYSTEM, ...KEYWORDS];
  return [...new Set([pick(rnd, all), ...(rnd() < 0.4 ? [pick(rnd, all)] : [])])];
}

/** A seq set within what the client knows (possibly past what the server has left: that only earns a NO or BAD). */
function seqSet(rnd: () => number, known: number): string {
  const a = 1 + Math.floor(rnd() * known);
  if (rnd() < 0.5) return String(a);
  return rnd() < 0.3 ? `${a}:*` : `${a}:${Math.min(known, a + Math.floor(rnd() * 4))}`;
}

/** So a run that compared nothing cannot pass. */
const stats = { checkpoints: 0, flagsCompared: 0, idleCompared: 0 };
async function runSchedule(seed: number): Promise<string[]> {
  const rnd = mulberry32(seed);
  const h = await harness();
  try {
    const seeder = await h.login();
    await seeder.cmd("s CREATE Other");
    for (let i = 0; i < 4; i++) {
      seeder.send(appendLine(`s${i}`, "INBOX", sampleMessage(`seed${i}`), i % 2 ? "\\Seen" : ""));
      await seeder.waitTagged(`s${i}`);
    }
    const drivers: Driver[] = [];
    for (let i = 0; i < 2 + (seed % 3); i++) {
      const d = new Driver(`c${i}_`, await h.login());
      d.send("SELECT INBOX");
      drivers.push(d);
    }
    await settle(drivers);
    const problems: string[] = [];
    for (let step = 0; step < STEPS && problems.length === 0; step++) {
      const d = pick(rnd, drivers);
      if (d.idleTag !== undefined) {
        d.done();
        continue;
      }
      const known = d.model.entries.length;
      const uids = d.model.entries.flatMap((e) => (e.uid === undefined ? [] : [e.uid]));
      const r = rnd();
      if (r < 0.14 && known > 0) d.send(`FETCH ${seqSet(rnd, known)} (UID FLAGS)`);
      else if (r < 0.24 && known > 0) d.send(`FETCH ${seqSet(rnd, known)} (UID FLAGS ${rnd() < 0.5 ? "BODY[]" : "BODY.PEEK[HEADER]"})`);
      else if (r < 0.44 && known > 0) d.send(`STORE ${seqSet(rnd, known)} ${pick(rnd, ["+", "-", ""])}FLAGS (${someFlags(rnd).join(" ")})`);
      else if (r < 0.56 && uids.length > 0) {
        // Alone on its session, so every response before its tagged reply comes after the change.
        await settle([d]);
        const set = [...new Set([pick(rnd, uids), pick(rnd, uids)])];
        const mode = pick(rnd, ["+", "-", ""] as const);
        const flags = someFlags(rnd);
        d.model.inferSilentStore(set, mode, flags);
        d.send(`UID STORE ${set.join(",")} ${mode}FLAGS.SILENT (${flags.join(" ")})`);
      } else if (r < 0.68) d.append(rnd() < 0.5 ? someFlags(rnd).join(" ") : "", `m${step}`);
      else if (r < 0.76 && known > 0) {
        d.send(`STORE ${seqSet(rnd, known)} +FLAGS (\\Deleted)`);
        d.send(rnd() < 0.5 || uids.length === 0 ? "EXPUNGE" : `UID EXPUNGE ${pick(rnd, uids)}`);
      } else if (r < 0.8 && known > 0) d.send(`${rnd() < 0.5 ? "MOVE" : "COPY"} ${seqSet(rnd, known)} Other`);
      else if (r < 0.82) {
        // A new SELECT starts the picture again from its answer.
        await settle([d]);
        d.model.entries = [];
        d.send("SELECT INBOX");
      } else if (r < 0.85) d.send(pick(rnd, ["NOOP", "CHECK"]));
      else if (r < 0.88) {
        // IDLE is not pipelined: the client waits for its earlier replies first.
        await settle([d]);
        d.idle();
      }
      else if (r < 0.94) await settle(drivers);
      else problems.push(...(await checkpoint(h, drivers, `step ${step}`)));
    }
    if (problems.length === 0) problems.push(...(await checkpoint(h, drivers, "end")));
    return problems.map((p) => `seed ${seed}: ${p}`);
  } finally {
    await h.cleanup();
  }
}

describe("session views under interleaved sessions", () => {
  afterEach(() => vi.restoreAllMocks());

  it(`every client's picture matches the mailbox at each checkpoint over ${replay === undefined ? SCHEDULES : 1} schedules (base seed ${base})`, async () => {
    const seeds = replay === undefined ? Array.from({ length: SCHEDULES }, (_, i) => base + i) : [replay];
    const failures: string[] = [];
    for (const seed of seeds) {
      failures.push(...(await runSchedule(seed)));
      if (failures.length >= 5) break;
    }
    expect(failures).toEqual([]);
    expect(stats.checkpoints).toBeGreaterThanOrEqual(seeds.length);
    expect(stats.flagsCompared).toBeGreaterThan(seeds.length);
    if (seeds.length >= 20) expect(stats.idleCompared).toBeGreaterThan(0);
  }, 120_000);

  it("finds a lost flag update (negative control)", async () => {
    // Every third flush forgets what it heard: some change never reaches its client.
    const flush = SelectedView.prototype.flush;
    let calls = 0;
    vi.spyOn(SelectedView.prototype, "flush").mockImplementation(function (this: SelectedView, write, allowExpunge) {
      if (++calls % 3 === 0) (this as unknown as { pending: unknown[] }).pending = [];
      flush.call(this, write, allowExpunge);
    });
    const failures: string[] = [];
    for (let i = 0; i < 10 && failures.length === 0; i++) failures.push(...(await runSchedule(base + i)));
    expect(failures.length).toBeGreaterThan(0);
  }, 120_000);
});
