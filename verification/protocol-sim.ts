// A deterministic simulation of the replication protocol of src/replication:
// ops move between replicas only inside messages, as on the wire (live ops,
// version vectors that acknowledge and ask, anti-entropy answers), over links
// that a seeded scheduler cuts, heals, delays, reorders, duplicates and drops,
// while replicas crash (losing their inbox and everything in flight) and
// restart (re-running the full vector exchange). A sender does not repeat, in
// answer to an acknowledgement, the ops it already wrote on a link that has
// stayed up (PeerSession's in-flight rule); a cut or a crash forgets them, and
// a full exchange asks for everything. The delivery rule is the real
// CausalInbox; the state is the real CRDT. After healing, checkConverged from
// sim.ts checks one state, no lost or resurrected message and the UID rules.
import { applyOp, buildReassigns, createState, genesisOp, pendingReassignments, reassignBlockers, versionVector, type Op, type UserState, type VersionVector } from "../src/crdt";
import { isDelivered, mergeVectors } from "../src/crdt/causality";
import { CausalInbox } from "../src/replication/causal-inbox";
import { mulberry32 } from "../src/util/mulberry32";
import { ACTION_WEIGHTS, localEffects, type Action, type RunResult } from "./sim";

type Msg = { from: number; to: number; kind: "ops"; ops: Op[] } | { from: number; to: number; kind: "vv"; vv: VersionVector; full: boolean };

interface Replica {
  id: string;
  /** Every op applied here, in apply order (a causal order): what the disk holds. */
  log: Op[];
  state: UserState;
  inbox: CausalInbox;
  up: boolean;
}

export interface ProtocolSimOptions {
  replicas: number;
  steps: number;
  /** The negative control: apply whatever arrives, without waiting for its causal context. */
  ignoreCausality?: boolean;
}

const ACTION_NAMES = ACTION_WEIGHTS.flatMap(([action, weight]) => Array<Action>(weight).fill(action));

export function runProtocolSchedule(seed: number, opts: ProtocolSimOptions): RunResult & { acknowledged: Op[] } {
  const rnd = mulberry32(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const reps: Replica[] = Array.from({ length: opts.replicas }, (_, i) => fresh(`r${i}`, []));
  const net: Msg[] = [];
  const cut = new Set<string>();
  const acknowledged: Op[] = [];
  const linkKey = (a: number, b: number) => (a < b ? `${a}-${b}` : `${b}-${a}`);
  // Per directed link: the ops written on it beyond the peer's acknowledgement, and that acknowledgement.
  const sent = new Map<string, VersionVector>();
  const acked = new Map<string, VersionVector>();
  const forgetLink = (a: number, b: number) => {
    for (const k of [`${a}>${b}`, `${b}>${a}`]) {
      sent.delete(k);
      acked.delete(k);
    }
  };
  const open = (a: number, b: number) => reps[a]!.up && reps[b]!.up && !cut.has(linkKey(a, b));

  function fresh(id: string, log: Op[]): Replica {
    const state = createState();
    applyOp(state, genesisOp());
    // Restart: the state is rebuilt from the durable log; nothing volatile survives.
    for (const op of log) applyOp(state, op);
    return { id, log, state, inbox: new CausalInbox(), up: true };
  }

  function send(m: Msg): void {
    if (open(m.from, m.to)) net.push(m);
  }

  function opsAfter(r: Replica, vv: VersionVector): Op[] {
    return r.log.filter((op) => !isDelivered(op, vv));
  }

  function emit(i: number, effects: ReturnType<typeof localEffects>): void {
    const r = reps[i]!;
    if (effects.length === 0) return;
    const vv = versionVector(r.state);
    const op: Op = { id: { replica: r.id, seq: (vv[r.id] ?? 0) + 1 }, deps: vv, effects };
    applyOp(r.state, op);
    r.log.push(op);
    acknowledged.push(op);
    for (let j = 0; j < reps.length; j++) {
      if (j === i || !open(i, j)) continue;
      send({ from: i, to: j, kind: "ops", ops: [op] });
      const k = `${i}>${j}`;
      const onTheWay = mergeVectors(acked.get(k) ?? {}, sent.get(k) ?? {});
      if ((onTheWay[r.id] ?? 0) === op.id.seq - 1) sent.set(k, { ...onTheWay, [r.id]: op.id.seq });
    }
  }

  function reassign(i: number): void {
    const r = reps[i]!;
    if (reassignBlockers(r.state, r.id).length > 0) return;
    emit(i, buildReassigns(r.state, pendingReassignments(r.state, r.id)));
  }

  function receive(m: Msg): void {
    const r = reps[m.to]!;
    if (m.kind === "ops") {
      if (opts.ignoreCausality) {
        for (const op of m.ops) {
          if (isDelivered(op, versionVector(r.state))) continue;
          applyOp(r.state, op); // throws CausalityError when the context is missing: the run fails
          r.log.push(op);
        }
      } else {
        r.inbox.add(m.ops, versionVector(r.state));
        for (let op = r.inbox.next(versionVector(r.state)); op; op = r.inbox.next(versionVector(r.state))) {
          applyOp(r.state, op);
          r.log.push(op);
        }
      }
      // The acknowledgement; if something is still missing, it also asks the sender for it.
      send({ from: m.to, to: m.from, kind: "vv", vv: versionVector(r.state), full: false });
      return;
    }
    const k = `${m.to}>${m.from}`;
    acked.set(k, m.vv);
    const base = m.full ? m.vv : mergeVectors(m.vv, sent.get(k) ?? {});
    const missing = opsAfter(r, base);
    if (missing.length > 0) send({ from: m.to, to: m.from, kind: "ops", ops: missing });
    const onTheWay = { ...base };
    for (const op of missing) if ((onTheWay[op.id.replica] ?? 0) < op.id.seq) onTheWay[op.id.replica] = op.id.seq;
    sent.set(k, onTheWay);
    const ours = versionVector(r.state);
    if (m.full || Object.entries(m.vv).some(([o, s]) => (ours[o] ?? 0) < s)) send({ from: m.to, to: m.from, kind: "vv", vv: ours, full: false });
  }

  function exchange(i: number): void {
    for (let j = 0; j < reps.length; j++) if (j !== i) send({ from: i, to: j, kind: "vv", vv: versionVector(reps[i]!.state), full: true });
  }

  for (let step = 0; step < opts.steps; step++) {
    const roll = rnd();
    if (roll < 0.3) {
      const i = int(reps.length);
      if (!reps[i]!.up) continue;
      const action = ACTION_NAMES[int(ACTION_NAMES.length)]!;
      const r = reps[i]!;
      // Tags are made from the op id, so the effects are built for the seq the op will get.
      const seq = (versionVector(r.state)[r.id] ?? 0) + 1;
      if (action === "reassign") reassign(i);
      else emit(i, localEffects(r.state, r.id, seq, { t: "local", r: i, action, x: int(8), y: int(8), z: int(8), mask: int(16) }));
    } else if (roll < 0.6) {
      if (net.length === 0) continue;
      // Any message in flight, not the oldest: reordering and delay.
      const k = int(net.length);
      const m = net[k]!;
      if (rnd() < 0.85) net.splice(k, 1); // otherwise it stays: delivered again later (a duplicate)
      if (open(m.from, m.to)) receive(m);
    } else if (roll < 0.68) {
      if (net.length > 0) net.splice(int(net.length), 1); // lost
    } else if (roll < 0.74) {
      const a = int(reps.length);
      const b = int(reps.length);
      if (a !== b) {
        const k = linkKey(a, b);
        forgetLink(a, b); // a cut closes the stream; a heal opens a new one
        if (cut.has(k)) {
          cut.delete(k);
          exchange(a);
        } else cut.add(k);
      }
    } else if (roll < 0.77) {
      const i = int(reps.length);
      if (reps[i]!.up) {
        reps[i]!.up = false;
        for (let j = 0; j < reps.length; j++) forgetLink(i, j);
        for (let k = net.length - 1; k >= 0; k--) if (net[k]!.to === i || net[k]!.from === i) net.splice(k, 1);
      } else {
        reps[i] = fresh(reps[i]!.id, reps[i]!.log);
        exchange(i);
      }
    } else if (roll < 0.9) {
      // A periodic vector flush from one replica to one peer.
      const i = int(reps.length);
      const j = int(reps.length);
      if (i !== j) send({ from: i, to: j, kind: "vv", vv: versionVector(reps[i]!.state), full: false });
    }
  }

  // Heal: every replica up, every link open, then run the protocol to quiescence, letting origins reassign in turn.
  cut.clear();
  for (let i = 0; i < reps.length; i++) if (!reps[i]!.up) reps[i] = fresh(reps[i]!.id, reps[i]!.log);
  let settled = false;
  for (let round = 0; round < 60 && !settled; round++) {
    for (let i = 0; i < reps.length; i++) exchange(i);
    for (let guard = 0; net.length > 0 && guard < 100_000; guard++) {
      const m = net.splice(int(net.length), 1)[0]!;
      receive(m);
    }
    const before = acknowledged.length;
    for (let i = 0; i < reps.length; i++) reassign(i);
    settled = acknowledged.length === before && net.length === 0;
  }
  return {
    digests: [],
    ops: acknowledged,
    acknowledged,
    replicas: reps.map((r) => r.state),
    settled,
    purgedMidway: 0,
  };
}

