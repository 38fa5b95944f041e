// Property tests of the whole parsing path a client's bytes take before a
// handler runs: CommandFramer → parseCommand (tokenizer) → the command's
// grammar (spec.parse). Malformed input may only ever produce ProtocolError
// (answered BAD/NO); anything else (TypeError, RangeError, ...) is a bug that
// would surface as a crashed command. Valid generated commands must parse to
// exactly the structure they were generated from.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ALL_COMMANDS } from "./commands";
import { CommandFramer } from "./framer";
import { TEST_LIMITS } from "./grammar/test-support";
import { parseCommand, ProtocolError } from "./tokenizer";
import type { FetchAttribute, SectionSpec, SeqRange } from "./types";

const RUNS = 300;
const SPECS = new Map(ALL_COMMANDS.map((s) => [s.name, s]));

type Outcome =
  | { kind: "parsed"; name: string; uid: boolean; value: unknown }
  | { kind: "bad"; message: string }
  | { kind: "unknown"; name: string }
  | { kind: "framing"; code: string };

/** Feeds `bytes` (split at `cuts`) through framer, tokenizer and grammar; rethrows anything but ProtocolError. */
function pipeline(bytes: Buffer, cuts: number[] = []): Outcome[] {
  const framer = new CommandFramer(TEST_LIMITS, () => {});
  const events = [];
  let pos = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut <= pos || cut >= bytes.length) continue;
    events.push(...framer.push(bytes.subarray(pos, cut)));
    pos = cut;
  }
  events.push(...framer.push(bytes.subarray(pos)));
  const out: Outcome[] = [];
  for (const ev of events) {
    if (ev.type === "error") {
      out.push({ kind: "framing", code: ev.code });
      continue;
    }
    try {
      const cmd = parseCommand(ev.parts, ev.literalAt);
      const spec = SPECS.get(cmd.name);
      if (!spec || (cmd.uid && !spec.uid)) {
        out.push({ kind: "unknown", name: cmd.name });
        continue;
      }
      out.push({ kind: "parsed", name: cmd.name, uid: cmd.uid, value: spec.parse(cmd.args, cmd.uid) });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      out.push({ kind: "bad", message: err.message });
    }
  }
  return out;
}

/** The single parsed value of a one-command input; fails the property otherwise. */
function parseOne(wire: string | Buffer, cuts: number[] = []): unknown {
  const bytes = typeof wire === "string" ? Buffer.from(wire, "latin1") : wire;
  const out = pipeline(bytes, cuts);
  expect(out).toHaveLength(1);
  const o = out[0]!;
  if (o.kind !== "parsed") throw new Error(`expected a parsed command, got ${JSON.stringify(o)}`);
  return o.value;
}

// ---------------------------------------------------------------------------
// Generators

/** Mixed-case spelling of a keyword, as clients may send it. */
const anyCase = (word: string) =>
  fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }).map((ups) =>
    [...word].map((c, i) => (ups[i] ? c.toUpperCase() : c.toLowerCase())).join(""),
  );

const nz = fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 0xffffffff }));
const seqNumber = fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 4, arbitrary: nz });
const seqText = (n: number | null) => (n === null ? "*" : String(n));
const seqRange: fc.Arbitrary<{ range: SeqRange; text: string }> = fc
  .tuple(seqNumber, fc.option(seqNumber, { nil: undefined }))
  .map(([a, b]) =>
    b === undefined ? { range: { from: a, to: a }, text: seqText(a) } : { range: { from: a, to: b }, text: `${seqText(a)}:${seqText(b)}` },
  );
const sequenceSet = fc.array(seqRange, { minLength: 1, maxLength: 8 }).map((rs) => ({
  set: rs.map((r) => r.range),
  text: rs.map((r) => r.text).join(","),
}));

const ATOM_CHARS = [...Array(0x7f - 0x21).keys()]
  .map((i) => String.fromCharCode(0x21 + i))
  .filter((c) => !'(){%*"\\]'.includes(c));
const atomText = fc.string({ unit: fc.constantFrom(...ATOM_CHARS), minLength: 1, maxLength: 12 });
/** A keyword the tokenizer reads as a plain atom (not NIL, not the start of a BODY[ section). */
const keyword = atomText.filter((s) => s.toUpperCase() !== "NIL" && !/^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)\[/i.test(s));

const headerName = fc.oneof(
  fc.string({ unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".split("")), minLength: 1, maxLength: 12 }).map(
    (s) => ({ text: s.toUpperCase() === "NIL" ? `"${s}"` : s, name: s.toUpperCase() }),
  ),
  fc.string({ unit: fc.constantFrom(..."ABCxyz-()*%]\\\"".split("")), minLength: 1, maxLength: 8 }).map((s) => ({ text: quote(s), name: s.toUpperCase() })),
);

type Att = { text: string; atts: FetchAttribute[]; body?: boolean };

const SIMPLE = ["ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE", "RFC822.TEXT", "BODY", "BODYSTRUCTURE", "UID"] as const;
const simpleAtt: fc.Arbitrary<Att> = fc
  .constantFrom(...SIMPLE)
  .chain((k) => anyCase(k).map((text) => ({ text, atts: [{ kind: k } as FetchAttribute] })));

const bodyAtt: fc.Arbitrary<Att> = fc
  .record({
    peek: fc.boolean(),
    part: fc.array(nz, { maxLength: 4 }),
    text: fc.constantFrom(undefined, "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"),
    fields: fc.array(headerName, { minLength: 1, maxLength: 4 }),
    partial: fc.option(fc.record({ start: fc.integer({ min: 0, max: 0xffffffff }), length: nz }), { nil: undefined }),
    lower: fc.boolean(),
  })
  .filter((r) => r.text !== "MIME" || r.part.length > 0)
  .map((r) => {
    const spec: SectionSpec = { part: r.part };
    if (r.text) spec.text = r.text as SectionSpec["text"];
    const withFields = r.text === "HEADER.FIELDS" || r.text === "HEADER.FIELDS.NOT";
    if (withFields) spec.fields = r.fields.map((f) => f.name);
    let inner = [r.part.join("."), r.lower ? r.text?.toLowerCase() : r.text].filter((x) => x).join(".");
    if (withFields) inner += ` (${r.fields.map((f) => f.text).join(" ")})`;
    const atom = r.peek ? (r.lower ? "body.peek" : "BODY.PEEK") : "BODY";
    const partial = r.partial ? `<${r.partial.start}.${r.partial.length}>` : "";
    const att: FetchAttribute = { kind: "BODY[]", section: spec, peek: r.peek };
    if (r.partial) att.partial = r.partial;
    return { text: `${atom}[${inner}]${partial}`, atts: [att], body: true };
  });

const MACROS: Record<string, FetchAttribute["kind"][]> = {
  ALL: ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
  FAST: ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
  FULL: ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
};
const macroAtt: fc.Arbitrary<Att> = fc
  .constantFrom("ALL", "FAST", "FULL")
  .chain((m) => anyCase(m).map((text) => ({ text, atts: MACROS[m]!.map((kind) => ({ kind }) as FetchAttribute) })));

const fetchAtt = fc.oneof(simpleAtt, bodyAtt);
const fetchArgs: fc.Arbitrary<Att> = fc.oneof(
  macroAtt,
  fetchAtt,
  fc.array(fetchAtt, { minLength: 1, maxLength: 6 }).map((as) => ({ text: `(${as.map((a) => a.text).join(" ")})`, atts: as.flatMap((a) => a.atts) })),
);

const SYSTEM = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];
const flag = fc.oneof(
  fc.constantFrom(...SYSTEM).chain((f) => anyCase(f).map((text) => ({ text, flag: f }))),
  keyword.map((k) => ({ text: k, flag: k })),
);
const flagList = fc.array(flag, { maxLength: 8 }).map((fs) => {
  const expected: string[] = [];
  const seen = new Set<string>();
  for (const f of fs) {
    if (seen.has(f.flag.toLowerCase())) continue;
    seen.add(f.flag.toLowerCase());
    expected.push(f.flag);
  }
  return { texts: fs.map((f) => f.text), expected };
});

/** Text a quoted string may carry: 7-bit, no NUL, CR or LF. */
const quotable = fc.string({
  unit: fc.integer({ min: 1, max: 0x7f }).filter((c) => c !== 0x0a && c !== 0x0d).map((c) => String.fromCharCode(c)),
  maxLength: 40,
});
/** RFC 5322 field-name characters: printable US-ASCII but ":". */
const fieldName = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).filter((c) => c !== 0x3a).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 20,
});
const quote = (s: string) => `"${s.replace(/["\\]/g, (c) => "\\" + c)}"`;

/** Byte positions to split the input at, so framing across arbitrary chunk boundaries is exercised. */
const cuts = fc.array(fc.nat({ max: 400 }), { maxLength: 6 });

// ---------------------------------------------------------------------------
// Only ProtocolError, whatever the input

const VALID_COMMANDS = [
  "a1 FETCH 1:* (FLAGS UID BODY.PEEK[HEADER.FIELDS (From To Subject)]<0.512>)\r\n",
  "a2 UID FETCH 1,3:5,9:* (BODY[1.2.MIME] BODY[TEXT]<10.20> RFC822.SIZE)\r\n",
  "a3 FETCH 2 FULL\r\n",
  "a4 STORE 1:3 +FLAGS.SILENT (\\Seen $Label \\Deleted)\r\n",
  "a5 UID STORE 7 -FLAGS \\Draft Junk\r\n",
  "a6 APPEND INBOX (\\Seen) \"05-Jan-2024 10:00:00 +0100\" {11}\r\nHello world\r\n",
  "a7 APPEND Drafts {5+}\r\n\xe4\xf6\xfc\x00!\r\n",
  "a8 SEARCH CHARSET UTF-8 OR FROM \"bob\" (UNSEEN LARGER 100) UID 1:*\r\n",
  "a9 UID COPY 1:4 \"Archive/2024\"\r\n",
  "a10 MOVE 5,6 Trash\r\n",
  "a11 LOGIN {3}\r\nbob \"pa\\\"ss\"\r\n",
  "a12 LIST \"\" \"%\"\r\n",
  "a13 STATUS INBOX (MESSAGES UIDNEXT UNSEEN)\r\n",
  "a14 SELECT \"Entw&APw-rfe\"\r\n",
  "a15 CREATE {4+}\r\nTest\r\n",
  "a16 FETCH 4294967295 BODY[4294967295.1.HEADER]<4294967295.1>\r\n",
  "a17 ID (\"name\" \"x\" \"version\" NIL)\r\n",
  "a18 ENABLE UTF8=ACCEPT\r\n",
  "a19 RENAME old new\r\n",
  "a20 SEARCH 1:3 SINCE 1-Feb-2024 NOT HEADER X-Spam yes\r\n",
];

const mutation = fc.oneof(
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constant("replace" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    op: fc.constant("insertToken" as const),
    at: fc.nat(),
    token: fc.constantFrom("(", ")", "[", "]", "<", ">", "{", "}", "{0}\r\n", "{4294967296}\r\n", "{3+}\r\n", "\"", "\\", "*", ":", ",", ".", " ", "\r\n", "NIL", "0", "4294967296", "BODY[", "\x00", "\xff"),
  }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(input: Buffer, ms: Mutation[]): Buffer {
  let b = input;
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    switch (m.op) {
      case "delete":
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
      case "insert":
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
        break;
      case "replace":
        if (at < b.length) {
          b = Buffer.from(b);
          b[at] = m.byte;
        }
        break;
      case "insertToken":
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.token, "latin1"), b.subarray(at)]);
        break;
      case "duplicate":
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + m.len), b.subarray(at)]);
        break;
      case "truncate":
        b = b.subarray(0, at);
        break;
    }
  }
  return b;
}

describe("parser robustness: only ProtocolError comes out", () => {
  it("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), cuts, (arr, cs) => {
        pipeline(Buffer.concat([Buffer.from(arr), Buffer.from("\r\n")]), cs);
      }),
      { numRuns: RUNS },
    );
  });

  it("random bytes after a tag and a known command name", () => {
    const names = [...SPECS.keys()].flatMap((n) => [n, `UID ${n}`]);
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.uint8Array({ maxLength: 200 }), (name, arr) => {
        pipeline(Buffer.concat([Buffer.from(`t ${name} `), Buffer.from(arr), Buffer.from("\r\n")]));
      }),
      { numRuns: RUNS },
    );
  });

  it("random printable token soup after FETCH, STORE, APPEND and SEARCH", () => {
    const piece = fc.oneof(
      fc.constantFrom("(", ")", "[", "]", "<", ">", ".", ":", ",", "*", " ", "\\", "\"", "NIL", "BODY", "BODY.PEEK[", "HEADER.FIELDS", "MIME", "TEXT", "0", "1", "4294967295", "4294967296", "{2}\r\nab", "{1+}\r\nx", "\\Seen", "\\Recent", "ALL", "FULL"),
      keyword,
    );
    fc.assert(
      fc.property(fc.constantFrom("FETCH 1 ", "UID FETCH 1:* ", "STORE 1 +FLAGS ", "APPEND INBOX ", "SEARCH ", "FETCH "), fc.array(piece, { maxLength: 20 }), (cmd, ps) => {
        pipeline(Buffer.from(`t ${cmd}${ps.join("")}\r\n`, "latin1"));
      }),
      { numRuns: RUNS },
    );
  });

  it("random well-formed token trees after every command", () => {
    const word = fc.oneof(
      fc.constantFrom("NIL", "ALL", "FAST", "FULL", "FLAGS", "UID", "BODY", "BODY.PEEK[]", "BODY[1.MIME]", "BODY[HEADER.FIELDS (a)]", "\\Seen",
        "\\Recent", "\\*", "1:*", "0", "*", "4294967296", "CHARSET", "UTF-8", "OR", "NOT", "HEADER", "INBOX", "MESSAGES", "+FLAGS.SILENT",
        "17-Jul-1996", '"17-Jul-1996 02:44:25 -0700"', '""', '"a\\"b"', "{3}\r\nabc", "{0+}\r\n", "%", "~", "]"),
      keyword,
    );
    const { tree } = fc.letrec<{ tree: string }>((tie) => ({
      tree: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        word,
        fc.array(tie("tree"), { maxLength: 3 }).map((xs) => `(${xs.join(" ")})`),
        fc.tuple(fc.constantFrom("BODY", "BODY.PEEK", "BINARY"), fc.array(tie("tree"), { maxLength: 2 }), fc.constantFrom("", "<0.1>", "<1.0>"))
          .map(([a, xs, p]) => `${a}[${xs.join(" ")}]${p}`),
      ),
    }));
    // Heads with valid leading arguments, so the trees reach the grammar of the later arguments.
    const head = fc.oneof(
      { weight: 1, arbitrary: fc.constantFrom(...[...SPECS.keys()].flatMap((n) => [n, `UID ${n}`])) },
      {
        weight: 4,
        arbitrary: fc.constantFrom("FETCH 1", "UID FETCH 1:*", "STORE 1 FLAGS", "UID STORE 2:3 +FLAGS.SILENT", "APPEND INBOX", "APPEND INBOX ()",
          "SEARCH", "UID SEARCH CHARSET UTF-8", "STATUS INBOX", "LIST \"\"", "COPY 1", "ID", "ENABLE"),
      },
    );
    fc.assert(
      fc.property(head, fc.array(tree, { minLength: 1, maxLength: 3 }), (head, args) => {
        pipeline(Buffer.from(`t ${head} ${args.join(" ")}\r\n`, "latin1"));
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it("random mutations of valid commands", () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID_COMMANDS), fc.array(mutation, { minLength: 1, maxLength: 5 }), cuts, (cmd, ms, cs) => {
        pipeline(mutate(Buffer.from(cmd, "latin1"), ms), cs);
      }),
      { numRuns: RUNS },
    );
  });

  it("the unmutated corpus parses", () => {
    const out = pipeline(Buffer.from(VALID_COMMANDS.join(""), "latin1"));
    expect(out.map((o) => o.kind)).toEqual(VALID_COMMANDS.map(() => "parsed"));
  });
});

// ---------------------------------------------------------------------------
// Valid commands parse to what they say

describe("valid generated commands parse to the expected structure", () => {
  it("sequence sets (FETCH, UID FETCH, SEARCH UID)", () => {
    fc.assert(
      fc.property(sequenceSet, fc.boolean(), cuts, ({ set, text }, uid, cs) => {
        const v = parseOne(`t ${uid ? "UID " : ""}FETCH ${text} FLAGS\r\n`, cs) as { set: SeqRange[]; uid: boolean };
        expect(v.set).toEqual(set);
        expect(v.uid).toBe(uid);
        const s = parseOne(`t SEARCH UID ${text}\r\n`) as { key: unknown };
        expect(s.key).toEqual({ op: "UID", set });
      }),
      { numRuns: RUNS },
    );
  });

  it("FETCH attribute lists", () => {
    fc.assert(
      fc.property(sequenceSet, fetchArgs, cuts, (seq, a, cs) => {
        const v = parseOne(`t FETCH ${seq.text} ${a.text}\r\n`, cs) as { attrs: FetchAttribute[]; sectionNames: string[] };
        expect(v.attrs).toEqual(a.atts);
        expect(v.sectionNames).toHaveLength(a.atts.filter((x) => x.kind === "BODY[]").length);
      }),
      { numRuns: RUNS },
    );
  });

  it("macros inside a list are BAD", () => {
    fc.assert(
      fc.property(fc.array(fetchAtt, { maxLength: 3 }), macroAtt, fc.array(fetchAtt, { maxLength: 3 }), (before, m, after) => {
        const text = `(${[...before, m, ...after].map((x) => x.text).join(" ")})`;
        const out = pipeline(Buffer.from(`t FETCH 1 ${text}\r\n`, "latin1"));
        expect(out).toHaveLength(1);
        expect(out[0]!.kind).toBe("bad");
      }),
      { numRuns: RUNS },
    );
  });

  it("flag lists (STORE with and without parentheses, APPEND)", () => {
    fc.assert(
      fc.property(sequenceSet, flagList, fc.constantFrom("FLAGS", "+FLAGS", "-FLAGS.SILENT"), (seq, fl, item) => {
        const listed = parseOne(`t STORE ${seq.text} ${item} (${fl.texts.join(" ")})\r\n`) as { flags: string[]; set: SeqRange[] };
        expect(listed.flags).toEqual(fl.expected);
        expect(listed.set).toEqual(seq.set);
        if (fl.texts.length > 0) {
          const bare = parseOne(`t UID STORE ${seq.text} ${item} ${fl.texts.join(" ")}\r\n`) as { flags: string[] };
          expect(bare.flags).toEqual(fl.expected);
        }
        const app = parseOne(`t APPEND INBOX (${fl.texts.join(" ")}) {1}\r\nx\r\n`) as { flags: string[] };
        expect(app.flags).toEqual(fl.expected);
      }),
      { numRuns: RUNS },
    );
  });

  it("quoted strings with escapes", () => {
    fc.assert(
      fc.property(quotable, quotable, cuts, (a, b, cs) => {
        const out = pipeline(Buffer.from(`t LOGIN ${quote(a)} ${quote(b)}\r\n`, "latin1"), cs);
        expect(out).toHaveLength(1);
        const o = out[0]!;
        expect(o.kind).toBe("parsed");
        expect(o.kind === "parsed" && o.value).toMatchObject({ user: a, password: b });
      }),
      { numRuns: RUNS },
    );
  });

  it("literals with 8-bit data, synchronising and LITERAL+", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.boolean(),
        flagList,
        fc.boolean(),
        cuts,
        (arr, plus, fl, withDate, cs) => {
          const data = Buffer.from(arr);
          const head = `t APPEND {5${plus ? "+" : ""}}\r\nDr\xe4ft (${fl.texts.join(" ")})${withDate ? ' "17-Jul-1996 02:44:25 -0700"' : ""} {${data.length}${plus ? "+" : ""}}\r\n`;
          const wire = Buffer.concat([Buffer.from(head, "latin1"), data, Buffer.from("\r\n")]);
          const outcome = pipeline(wire, cs);
          expect(outcome).toHaveLength(1);
          // The mailbox name is raw 8-bit, which the mailbox grammar refuses: BAD, never a crash.
          expect(outcome[0]!.kind).toBe("bad");
          const good = Buffer.concat([
            Buffer.from(`t APPEND {5${plus ? "+" : ""}}\r\nDraft (${fl.texts.join(" ")})${withDate ? ' "17-Jul-1996 02:44:25 -0700"' : ""} {${data.length}${plus ? "+" : ""}}\r\n`, "latin1"),
            data,
            Buffer.from("\r\n"),
          ]);
          const v = parseOne(good, cs) as { mailbox: string; flags: string[]; message: Buffer; date?: number };
          expect(v.mailbox).toBe("Draft");
          expect(v.flags).toEqual(fl.expected);
          expect([...v.message]).toEqual([...data]);
          expect(v.date === undefined).toBe(!withDate);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("header field names in literals and quoted strings inside BODY[HEADER.FIELDS (...)]", () => {
    fc.assert(
      fc.property(fc.array(fieldName, { minLength: 1, maxLength: 4 }), fc.boolean(), (names, asLiteral) => {
        const items = names.map((n) => (asLiteral ? `{${Buffer.byteLength(n, "latin1")}}\r\n${n}` : quote(n)));
        const v = parseOne(`t FETCH 1 BODY.PEEK[HEADER.FIELDS (${items.join(" ")})]\r\n`) as { attrs: FetchAttribute[] };
        expect(v.attrs).toEqual([{ kind: "BODY[]", peek: true, section: { part: [], text: "HEADER.FIELDS", fields: names.map((n) => n.toUpperCase()) } }]);
      }),
      { numRuns: RUNS },
    );
  });
});
