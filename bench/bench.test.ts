// Unit tests for the pure parts of the benchmark: the response parser, the
// percentile and histogram math, the Prometheus parser, the SVG writer and
// the command line, and the wait for a server at rest. No timing
// assertions: timing belongs to npm run bench.
import { afterEach, describe, expect, it } from "vitest";
import { capabilitiesIn, existsCount, ImapResponse, ResponseParser, searchResult, taggedStatus } from "./client/parser";
import { cpuPerSessionUs, percentile, Recorder, SessionPacer, summarize } from "./client/stats";
import { mulberry32 } from "../src/util/mulberry32";
import { makeMessage } from "./client/messages";
import { chartSvg, escapeXml } from "./svg";
import { histogramBuckets, histogramQuantile, parsePrometheus } from "./scenarios/replication";
import { figure, waitUntilIdle } from "./scenarios/common";
import { spawn, type ChildProcess } from "node:child_process";
import type { ServerUnderTest } from "./servers/server";
import { parseNodeLine, parseReadyLine } from "./servers/charon";
import { dovecotConf } from "./dovecot";
import { table } from "./report";
import { parseBenchArgs } from "./run";
import { benchMbox, imaptestFigures, imaptestPasses, parseImaptestOutput, profileConf, profileUsers, type Run } from "./scenarios/imaptest";

function parseAll(chunks: Array<string | Buffer>, keep = false): ImapResponse[] {
  const out: ImapResponse[] = [];
  const p = new ResponseParser((r) => out.push(r), keep);
  for (const c of chunks) p.push(typeof c === "string" ? Buffer.from(c, "latin1") : c);
  return out;
}

describe("ResponseParser", () => {
  it("splits tagged, untagged and continuation responses", () => {
    const rs = parseAll(["* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n+ go ahead\r\na1 OK done\r\n"]);
    expect(rs.map((r) => r.tag)).toEqual(["*", "+", "a1"]);
    expect(taggedStatus(rs[2])).toEqual({ status: "OK", rest: "done" });
    expect(capabilitiesIn(rs[0].text)).toEqual(["IMAP4REV1", "LITERAL+"]);
  });

  it("reads literals across chunk boundaries, byte by byte, and keeps them when asked", () => {
    const body = "Subject: x\r\n\r\nhello {5}\r\n";
    const wire = `* 1 FETCH (UID 7 BODY[] {${body.length}}\r\n${body} FLAGS (\\Seen))\r\na2 OK FETCH done\r\n`;
    const whole = parseAll([wire], true);
    const bytewise = parseAll(wire.split(""), true);
    for (const rs of [whole, bytewise]) {
      expect(rs).toHaveLength(2);
      expect(rs[0].text).toBe(`* 1 FETCH (UID 7 BODY[] {${body.length}} FLAGS (\\Seen))`);
      expect(rs[0].literalSizes).toEqual([body.length]);
      expect(rs[0].literals?.[0].toString("latin1")).toBe(body);
      expect(rs[1].tag).toBe("a2");
    }
  });

  it("handles empty literals, two literals in a line, and keeps only sizes by default", () => {
    const rs = parseAll(["* 2 FETCH (BODY[1] {0}\r\n BODY[2] {3}\r\nabc)\r\n", "a3 NO [TRYCREATE] no\r\n"]);
    expect(rs[0].literalSizes).toEqual([0, 3]);
    expect(rs[0].literals).toBeUndefined();
    expect(rs[0].text).toBe("* 2 FETCH (BODY[1] {0} BODY[2] {3})");
    expect(taggedStatus(rs[1]).status).toBe("NO");
  });

  it("a literal that ends a chunk exactly, the line going on in the next", () => {
    const rs = parseAll(["* 3 FETCH (BODY[] {2}\r\nab", ")\r\na4 OK x\r\n"]);
    expect(rs.map((r) => r.text)).toEqual(["* 3 FETCH (BODY[] {2})", "a4 OK x"]);
  });

  it("ends a line only at CRLF: a bare LF, even first in a chunk, stays in the line", () => {
    const wire = "* OK a\nb\r\n\na5 OK c\r\n";
    for (const chunks of [[wire], wire.split(""), ["* OK a", "\nb\r", "\n\na5 OK c\r\n"]]) {
      expect(parseAll(chunks).map((r) => r.text)).toEqual(["* OK a\nb", "\na5 OK c"]);
    }
  });

  it("finds EXISTS counts and SEARCH results", () => {
    const rs = parseAll(["* 42 EXISTS\r\n* SEARCH 1 5 9\r\n* SEARCH\r\n"]);
    expect(existsCount(rs[0])).toBe(42);
    expect(searchResult(rs[1])).toEqual([1, 5, 9]);
    expect(searchResult(rs[2])).toEqual([]);
    expect(existsCount(rs[1])).toBeUndefined();
  });

  it("fails on a broken parser: a literal size is not taken as line text", () => {
    // The 5 bytes "a9 OK" are literal data, not a tagged response.
    const rs = parseAll(["* 1 FETCH (BODY[] {5}\r\na9 OK)\r\n"]);
    expect(rs).toHaveLength(1);
    expect(rs[0].tag).toBe("*");
  });
});

describe("percentiles", () => {
  it("nearest rank", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 51)).toBe(3);
  });

  it("summarize sorts numerically and the recorder counts failures", () => {
    const s = summarize([10, 9, 100, 2]);
    expect(s).toMatchObject({ count: 4, p50: 9, p99: 100, max: 100, mean: 30.25 });
    const r = new Recorder();
    r.record("FETCH", 3, true);
    r.record("FETCH", 1, false, "a1 NO nope");
    r.fail("LOGIN", "refused");
    const sum = r.summary();
    expect(sum.FETCH).toMatchObject({ count: 2, errors: 1, p50: 1 });
    expect(sum.LOGIN).toMatchObject({ count: 0, errors: 1 });
    expect(r.errorExamples).toEqual(["FETCH: a1 NO nope", "LOGIN: refused"]);
  });

  it("the PRNG and messages are deterministic, of the asked size, with CRLF lines", () => {
    const a = mulberry32(5);
    const b = mulberry32(5);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
    for (const size of [1024, 5000, 33 * 1024]) {
      const m = makeMessage(3, size);
      expect(m.length).toBe(size);
      expect(m.equals(makeMessage(3, size))).toBe(true);
      expect(/\r(?!\n)|(?<!\r)\n/.test(m.toString("latin1"))).toBe(false);
    }
  });
});

describe("cpuPerSessionUs", () => {
  it("divides the CPU time used by the sessions run", () => {
    // Half a core for 10 s is 5 s of CPU; over 5,000 sessions, 1 ms each.
    expect(cpuPerSessionUs(0.5, 10, 5000)).toBeCloseTo(1000, 9);
    expect(cpuPerSessionUs(0.25, 4, 2000)).toBeCloseTo(500, 9);
  });
  it("is NaN, not Infinity, when no session ended", () => {
    expect(cpuPerSessionUs(0.3, 10, 0)).toBeNaN();
  });
});

describe("SessionPacer", () => {
  it("spaces starts 1/rate apart across callers, and a late caller gets no burst", () => {
    const p = new SessionPacer(100); // 10 ms apart
    expect([p.reserve(0), p.reserve(0), p.reserve(0)]).toEqual([0, 10, 20]);
    // Called after the reserved slots have passed: starts now, not in a burst of catch-up slots.
    expect(p.reserve(100)).toBe(0);
    expect(p.reserve(101)).toBe(9);
    expect(() => new SessionPacer(0)).toThrow(/above 0/);
  });

  it("holds next() until the caller's slot", async () => {
    const p = new SessionPacer(50); // 20 ms apart
    const t0 = performance.now();
    await Promise.all([p.next(), p.next(), p.next(), p.next()]);
    // Four starts 20 ms apart: the last one no earlier than 60 ms after the first (1 ms for timer rounding).
    expect(performance.now() - t0).toBeGreaterThanOrEqual(59);
  });
});

describe("Prometheus histograms", () => {
  const text = [
    "# HELP charon_replication_lag_seconds lag",
    "# TYPE charon_replication_lag_seconds histogram",
    'charon_replication_lag_seconds_bucket{le="0.01",node="w1"} 50',
    'charon_replication_lag_seconds_bucket{le="0.1",node="w1"} 90',
    'charon_replication_lag_seconds_bucket{le="+Inf",node="w1"} 100',
    'charon_replication_lag_seconds_bucket{le="0.01",node="w2"} 50',
    'charon_replication_lag_seconds_bucket{le="0.1",node="w2"} 90',
    'charon_replication_lag_seconds_bucket{le="+Inf",node="w2"} 100',
    'charon_sessions_active{node="a b"} 3',
  ].join("\n");

  it("parses samples with labels and sums buckets over series", () => {
    const s = parsePrometheus(text);
    expect(s.find((x) => x.name === "charon_sessions_active")).toEqual({ name: "charon_sessions_active", labels: { node: "a b" }, value: 3 });
    const b = histogramBuckets(s, "charon_replication_lag_seconds");
    expect([...b.entries()]).toEqual([[0.01, 100], [0.1, 180], [Infinity, 200]]);
  });

  it("interpolates quantiles inside buckets", () => {
    const b = histogramBuckets(parsePrometheus(text), "charon_replication_lag_seconds");
    expect(histogramQuantile(b, 0.25)).toBeCloseTo(0.005);
    expect(histogramQuantile(b, 0.5)).toBeCloseTo(0.01);
    expect(histogramQuantile(b, 0.7)).toBeCloseTo(0.01 + 0.09 * (40 / 80));
    expect(histogramQuantile(b, 0.99)).toBeCloseTo(0.1); // in +Inf: the last finite bound
    expect(histogramQuantile(new Map(), 0.5)).toBeNaN();
  });
});

describe("figures, table and SVG", () => {
  const f1 = figure({ group: "10 clients", metric: "all commands/s", unit: "ops/s", better: "higher", values: { charon: 600, dovecot: 400 }, target: { text: ">= 1.0x Dovecot", met: true } });
  const f2 = figure({ group: "10 clients", metric: "FETCH <p99> & co", unit: "ms", better: "lower", values: { charon: 30, dovecot: 10 }, target: { text: "p99 <= Dovecot's", met: false } });
  const f3 = figure({ group: "lag", metric: "lag", unit: "ms", better: "lower", values: {} });

  it("ratios are charon/Dovecot, undefined without both", () => {
    expect(f1.ratio).toBeCloseTo(1.5);
    expect(f2.ratio).toBeCloseTo(3);
    expect(f3.ratio).toBeUndefined();
    expect(figure({ group: "g", metric: "m", unit: "u", better: "lower", values: { charon: 1, dovecot: 0 } }).ratio).toBeUndefined();
  });

  it("the SVG is well-formed, escapes text, draws a bar per value and colours verdicts", () => {
    const svg = chartSvg({ title: "Mixed <1> & more", figures: [f1, f2, f3] }, ["charon", "dovecot"]);
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("Mixed &lt;1&gt; &amp; more");
    expect(svg).toContain("FETCH &lt;p99&gt; &amp; co");
    expect(svg).not.toMatch(/<p99>/);
    // 2 legend squares + 4 bars + background + 2 stripes.
    expect((svg.match(/<rect /g) ?? []).length).toBe(2 + 4 + 1 + 2);
    expect(svg).toContain("×1.50 met");
    expect(svg).toContain("×3.00 not met");
    expect(svg).toContain("charon: n/a");
    expect(escapeXml(`a"b'c`)).toBe("a&quot;b&apos;c");
    // Tags balance: every opened text closes.
    expect((svg.match(/<text /g) ?? []).length).toBe((svg.match(/<\/text>/g) ?? []).length);
  });

  it("the table carries values, ratios and verdicts", () => {
    const t = table([{ id: "mixed", title: "", params: {}, figures: [f1, f2, f3], notes: [], raw: {}, durationMs: 0 }], ["charon", "dovecot"]);
    expect(t).toMatch(/all commands\/s\s+ops\/s\s+600\.0\s+400\.0\s+x1\.50\s+MET: >= 1\.0x Dovecot/);
    expect(t).toMatch(/x3\.00\s+NOT MET/);
  });
});

describe("server plumbing", () => {
  it("parses charon dev's node and ready lines", () => {
    expect(parseNodeLine('node dist-1 role=distributor pid=123 admin=http://127.0.0.1:9 restart="x y"')).toEqual({ name: "dist-1", role: "distributor", pid: 123, admin: "http://127.0.0.1:9" });
    expect(parseNodeLine("node w role=worker pid=5 admin=none")?.admin).toBeUndefined();
    expect(parseNodeLine("user alice")).toBeUndefined();
    expect(parseReadyLine("ready imaps=127.0.0.1:993 imap=127.0.0.1:143")).toEqual({ host: "127.0.0.1", port: 993 });
    expect(parseReadyLine("ready imaps=[::1]:993 imap=[::1]:143")).toEqual({ host: "::1", port: 993 });
  });

  it("writes a loopback-only Dovecot configuration with the session limits raised", () => {
    const c = dovecotConf({ dir: "/t", port: 4993, internalUser: "dovecot", loginUser: "dovenull", mailUid: 65534, mailGid: 65534, maxSessions: 5000 });
    expect(c).toMatch(/^listen = 127\.0\.0\.1$/m);
    expect(c).toMatch(/address = 127\.0\.0\.1\s+port = 4993\s+ssl = yes/);
    expect(c).toMatch(/inet_listener imap \{\s+port = 0/);
    expect(c).toMatch(/mail_max_userip_connections = 5100/);
    expect(c).toMatch(/^mail_location = maildir:\/t\/mail\/%u\/Maildir$/m);
    expect(c).not.toMatch(/0\.0\.0\.0|\*:/);
  });

  it("parses the bench command line", () => {
    const a = parseBenchArgs(["--scenarios", "1,large", "--clients", "2,4", "--quick", "--duration", "1.5"]);
    expect(a).toMatchObject({ scenarios: ["mixed", "large"], clients: [2, 4], quick: true, durationS: 1.5, servers: ["charon", "dovecot"] });
    expect(parseBenchArgs(["--pluto", "/x/pluto", "--pluto-config", "c.toml"]).servers).toEqual(["charon", "dovecot", "pluto"]);
    expect(() => parseBenchArgs(["--pluto", "/x"])).toThrow(/go together/);
    expect(() => parseBenchArgs(["--scenarios", "nope"])).toThrow(/unknown scenario/);
    expect(() => parseBenchArgs(["--clients", "0"])).toThrow(/positive integer/);
    expect(() => parseBenchArgs(["--frob"])).toThrow();
    expect(parseBenchArgs(["--scenarios", "6", "--imaptest", "/x/imaptest", "--imaptest-args", " checkpoint=2  msgs=50 "])).toMatchObject({
      scenarios: ["imaptest"],
      imaptest: "/x/imaptest",
      imaptestArgs: ["checkpoint=2", "msgs=50"],
    });
    expect(() => parseBenchArgs(["--imaptest-args", "checkpoint=2"])).toThrow(/needs --imaptest/);
  });
});

describe("waiting for a server to come to rest", () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill();
  });

  /** A child that spins for `busyMs` (forever if negative), then says "resting" and sleeps. */
  function spinner(busyMs: number) {
    const code = `const t = Date.now(); while (${busyMs} < 0 || Date.now() - t < ${busyMs}) {} console.log("resting"); setTimeout(() => {}, 60000);`;
    const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "ignore"] });
    children.push(child);
    let resting = false;
    child.stdout.on("data", () => (resting = true));
    const server = { allPids: () => [child.pid!] } as unknown as ServerUnderTest;
    return { server, isResting: () => resting };
  }

  it("returns once the processes stop using CPU, not before", async () => {
    const s = spinner(1500);
    const r = await waitUntilIdle(s.server, { windowMs: 250, maxMs: 20_000 });
    expect(r.settled).toBe(true);
    expect(s.isResting()).toBe(true);
  });

  it("gives up at maxMs while they stay busy", async () => {
    const s = spinner(-1);
    const r = await waitUntilIdle(s.server, { windowMs: 200, maxMs: 700 });
    expect(r.settled).toBe(false);
    expect(s.isResting()).toBe(false);
  });
});

describe("imaptest output", () => {
  // Shape of a real run's end (per-second rows, then the totals block).
  const run = [
    "Logi List Stat Sele Fetc Fet2 Stor Dele Expu Appe Logo ChkP ",
    "100%  50%  50% 100% 100% 100%  50% 100% 100% 100% 100% 100% ",
    "                          30%                  5%           ",
    " 447  222  252  444  259  591  178  229  440  350  440    0   9/ 10",
    "Error: test[3]: STORE failed: 964.7 NO [EXPUNGEISSUED] Some of the messages no longer exist",
    "",
    "Totals:",
    "Logi List Stat Sele Fetc Fet2 Stor Dele Expu Appe Logo ChkP ",
    "100%  50%  50% 100% 100% 100%  50% 100% 100% 100% 100% 100% ",
    "                          30%                  5%           ",
    "9478 4798 4795 9477 5580 12912 3867 5030 9473 6720 9479   32 ",
  ].join("\n");

  /** A run that finished cleanly, with the fields a test changes. */
  const ok = (over: Partial<Run> = {}): Run => ({ ...parseImaptestOutput(run), errors: [], exit: "0", wallS: 30, ...over });

  it("reads the totals, not a per-second row, and counts the error lines", () => {
    const o = parseImaptestOutput(run);
    expect(o.totals).toMatchObject({ Logi: 9478, Fet2: 12912, Logo: 9479, ChkP: 32 });
    expect(o.commands).toBe(9478 + 4798 + 4795 + 9477 + 5580 + 12912 + 3867 + 5030 + 9473 + 6720 + 9479);
    expect(o.errors).toEqual(["Error: test[3]: STORE failed: 964.7 NO [EXPUNGEISSUED] Some of the messages no longer exist"]);
    expect(o.crash).toBeUndefined();
  });

  it("reports a crash, not its backtrace, and no totals when imaptest died first", () => {
    const o = parseImaptestOutput("Panic: file array.c: line 10: assertion failed\nError: Raw backtrace: #0 x -> #1 y\n");
    expect(o.crash).toBe("Panic: file array.c: line 10: assertion failed");
    expect(o.errors).toEqual([]);
    expect(o.totals).toEqual({});
    expect(o.commands).toBe(0);
  });

  it("runs a pass with checkpoints unless the caller set checkpoint= already, then profile mode without the caller's arguments", () => {
    expect(imaptestPasses(["msgs=50"])).toEqual([
      { name: "default", args: ["msgs=50"] },
      { name: "checkpoints", args: ["msgs=50", "checkpoint=2"] },
      { name: "profile", args: [], profile: true },
    ]);
    expect(imaptestPasses(["checkpoint=5"]).map((p) => p.name)).toEqual(["default", "profile"]);
  });

  it("writes a profile whose users are the ones the servers get, delivering to the given LMTP port", () => {
    const conf = profileConf(40123, 3);
    expect(conf).toMatch(/^lmtp_port = 40123$/m);
    expect(conf).toMatch(/^total_user_count = 3$/m);
    // imaptest expands %n to 1..total_user_count.
    const format = /username_format = (\S+)/.exec(conf)![1]!;
    expect([1, 2, 3].map((n) => format.replace("%n", String(n)))).toEqual(profileUsers(3).map((u) => u.name));
    expect(new Set(profileUsers(3).map((u) => u.password)).size).toBe(1);
    expect(conf).not.toMatch(/MODSEQ/);
  });

  it("reports the profile pass's deliveries, and judges its errors like the others'", () => {
    const figures = imaptestFigures({ profile: { charon: ok({ delivered: 120 }), dovecot: ok({ delivered: 118, errors: ["Error: x"] }) } }, 30);
    const byMetric = new Map(figures.map((f) => [f.metric, f]));
    expect(byMetric.get("messages delivered (profile)")!.values).toEqual({ charon: 120, dovecot: 118 });
    expect(byMetric.get("state-tracking errors (profile)")).toMatchObject({ values: { charon: 0, dovecot: 1 }, target: { met: true } });
  });

  it("judges charon on every pass, and gives a run imaptest did not finish no figures", () => {
    const crashed = ok({ crash: "Panic: client_update_plan: assertion failed", exit: "SIGABRT", totals: {}, commands: 0 });
    const figures = imaptestFigures(
      {
        default: { charon: ok(), dovecot: ok() },
        checkpoints: { charon: ok({ errors: ["Error: Checkpoint: client 3: Message seq=9 UID=9 flags differ: (\\Seen) vs ()"] }), dovecot: crashed },
      },
      30,
    );
    const byMetric = new Map(figures.map((f) => [f.metric, f]));
    expect(byMetric.get("state-tracking errors")).toMatchObject({ values: { charon: 0, dovecot: 0 }, target: { met: true } });
    expect(byMetric.get("commands/s")!.values.charon).toBeCloseTo(ok().commands / 30);
    const ck = byMetric.get("state-tracking errors (checkpoints)")!;
    expect(ck.values).toEqual({ charon: 1 });
    expect(ck.target).toMatchObject({ met: false });
    expect(byMetric.get("clients compared at checkpoints")!.values).toEqual({ charon: 32 });
    expect(byMetric.has("commands/s (checkpoints)")).toBe(false);
  });

  it("names each client the server kept waiting, once per wait at its longest, and not one waiting on imaptest itself", () => {
    const text = [
      " - 17 stalled for 16 secs in command: 212 UID FETCH 1:* (FLAGS)",
      " 447  222  252  444  259  591  178  229  440  350  440    0   9/ 10 (2 stalled >3s)",
      " - 17 stalled for 17 secs in command: 212 UID FETCH 1:* (FLAGS)",
      " - 17 stalled for 16 secs in command: 230 NOOP",
      " - 4 stalled for 16 secs in BYE, waiting for disconnect",
      // Nothing in flight: imaptest holds this client back (a checkpoint waiting for the others).
      " - 9 stalled for 20 secs in SELECT",
      "Info: Second timeout triggered while trying to stop - stopping immediately",
      run,
    ].join("\n");
    const o = parseImaptestOutput(text);
    expect(o.stalls).toEqual([
      "client 17 waited 17 s in command: 212 UID FETCH 1:* (FLAGS)",
      "client 17 waited 16 s in command: 230 NOOP",
      "client 4 waited 16 s in BYE, waiting for disconnect",
    ]);
    expect(o.forcedStop).toBe(true);
    expect(o.totals.Logi).toBe(9478);
    const plain = parseImaptestOutput(run);
    expect(plain.stalls).toEqual([]);
    expect(plain.forcedStop).toBe(false);
  });

  it("does not judge a pass met when the server kept a client waiting, and shows the waits", () => {
    const figures = imaptestFigures(
      { checkpoints: { charon: ok({ stalls: ["client 3 waited 16 s in command: 9 CHECK"] }), dovecot: ok() }, default: { charon: ok(), dovecot: ok() } },
      30,
    );
    const byMetric = new Map(figures.map((f) => [f.metric, f]));
    expect(byMetric.get("state-tracking errors (checkpoints)")).toMatchObject({ values: { charon: 0, dovecot: 0 }, target: { met: false } });
    expect(byMetric.get("clients kept waiting over 15 s (checkpoints)")!.values).toEqual({ charon: 1, dovecot: 0 });
    expect(byMetric.get("state-tracking errors")!.target).toMatchObject({ met: true });
    expect(byMetric.has("clients kept waiting over 15 s")).toBe(false);
  });

  it("does not count a crash of imaptest against charon as met", () => {
    const crashed: Run = { ...parseImaptestOutput("Panic: x\n"), exit: "SIGABRT", wallS: 1 };
    const [errors] = imaptestFigures({ default: { charon: crashed } }, 30);
    expect(errors!.values).toEqual({});
    expect(errors!.target).toMatchObject({ met: false });
  });

  it("gives a run killed at the time limit no figures either, though it printed no crash", () => {
    // What a spinning imaptest left when SIGKILL ended it: per-second rows, no totals, no Panic.
    const killed: Run = { ...parseImaptestOutput(run.split("\n").slice(0, 4).join("\n")), exit: "SIGKILL", wallS: 90 };
    expect(killed.crash).toBeUndefined();
    const byMetric = new Map(imaptestFigures({ default: { charon: killed } }, 30).map((f) => [f.metric, f]));
    expect(byMetric.get("state-tracking errors")).toMatchObject({ values: {}, target: { met: false } });
    expect(byMetric.get("commands/s")!.values).toEqual({});
  });

  it("writes an mbox of distinct messages with LF line ends", () => {
    const m = benchMbox(3);
    expect(m.match(/^From sender\d@example\.test /gm)).toHaveLength(3);
    expect(m).not.toContain("\r");
    expect(m.match(/^Message-ID: /gm)).toHaveLength(3);
    // A message's own lines never start with "From " (that would split it).
    expect(m.split("\n").filter((l) => l.startsWith("From ")).length).toBe(3);
  });
});
