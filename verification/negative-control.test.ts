// Negative controls: deliberately broken merges run through the same
// convergence property must be caught. If one of these passes, the property
// (or its history generator) has gone blind to that class of bug.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Effect, type Op, type UserState, applyOp, buildDelete, buildFlagChange } from "../src/crdt";
import { type CrdtState, type MessageRecord, insertByUid, liveFlags } from "../src/crdt/state";
import { commonVector, dominates, mergeVectors, type Tombstone, type VersionVector } from "../src/crdt";
import { type ApplyFn, CheckFailure, checkConverged, churnHistoryArb, historyArb, type PurgeRule, runHistory } from "./sim";

/** The same property as convergence.test.ts, over a given apply function (and purge rule). */
function convergenceAgainst(apply: ApplyFn, numRuns: number, purgeRule?: () => PurgeRule, histories = historyArb({ replicas: 3, maxCmds: 60 })) {
  return fc.check(
    fc.property(histories, (h) => {
      checkConverged(h, runHistory(h, { apply, monitor: false, purgeRule }));
    }),
    { numRuns, endOnFailure: true },
  );
}

function expectCaught(details: ReturnType<typeof convergenceAgainst>): void {
  console.log(`caught after ${details.numRuns} histories (seed ${details.seed}): ${String(details.errorInstance).split("\n")[0]}`);
  expect(details.failed).toBe(true);
  // Caught by a check of ours, not by a crash of the harness.
  const err = details.errorInstance;
  expect(err).toBeInstanceOf(CheckFailure);
}

/** Broken: when two messages claim one uid, the later arrival takes it instead of retiring it. */
const laterClaimWins: ApplyFn = (state, op) => {
  const res = applyOp(state, op);
  if (!res.applied) return res;
  const s = state as unknown as CrdtState;
  for (const e of op.effects) {
    if (e.type !== "message.add" && e.type !== "uid.reassign") continue;
    const mb = s.mailboxes.get(e.mailboxId)!;
    const msg = mb.messages.get(e.messageId)!;
    if (mb.claims.get(e.uid) !== null || msg.removed || msg.record || msg.claim !== e.uid) continue;
    mb.claims.set(e.uid, msg.id);
    const rec: MessageRecord = {
      messageId: msg.id,
      mailboxId: mb.id,
      uid: e.uid,
      blob: msg.blob,
      size: msg.size,
      internalDate: msg.internalDate,
      flags: liveFlags(msg),
    };
    msg.record = rec;
    insertByUid(mb.visible, rec);
    res.reassign = res.reassign.filter((r) => r.messageId !== msg.id);
  }
  return res;
};

/** Rewrites an op's effects at the receiver, before the real apply. */
function rewriting(rewrite: (state: UserState, e: Effect) => Effect): ApplyFn {
  return (state, op) => applyOp(state, { ...op, effects: op.effects.map((e) => rewrite(state, e)) } as Op);
}

/** Broken: -FLAGS removes every tag the receiver has (remove-wins), not just the observed ones. */
const removeWinsFlags = rewriting((state, e) => {
  if (e.type !== "flags.remove") return e;
  const flags = e.observed.map((o) => o.flag);
  return buildFlagChange(state, e.mailboxId, e.messageId, "remove", flags)[0] ?? e;
});

/** Broken: DELETE removes everything the receiver has, so a concurrent APPEND is lost. */
const deleteWins = rewriting((state, e) => (e.type === "mailbox.delete" ? buildDelete(state, e.mailboxId) : e));

/**
 * Broken: tombstones purged as soon as every replica has their removals,
 * without waiting for the ops made concurrently with them (TombstoneStability's second step).
 */
function purgeOnceRemovalsAreEverywhere(): PurgeRule {
  let generation: { tombstones: Tombstone[]; need: VersionVector } | undefined;
  return {
    step(_user, vectors, current) {
      if (!generation) {
        const tombstones = current();
        if (tombstones.length > 0) generation = { tombstones, need: vectors.reduce(mergeVectors, {}) };
        return [];
      }
      if (!dominates(commonVector(vectors), generation.need)) return [];
      const { tombstones } = generation;
      generation = undefined;
      return tombstones;
    },
  };
}

describe("negative controls: the convergence property catches broken merges", () => {
  it("sanity: the real merge passes the same property", () => {
    expect(convergenceAgainst(applyOp, 200).failed).toBe(false);
  });

  it("a uid going to the later-arriving claim", () => {
    expectCaught(convergenceAgainst(laterClaimWins, 2000));
  });

  it("a remove-wins flag set", () => {
    expectCaught(convergenceAgainst(removeWinsFlags, 2000));
  });

  it("a DELETE that removes unobserved messages", () => {
    expectCaught(convergenceAgainst(deleteWins, 2000));
  });

  it("tombstones purged before the ops concurrent with their removal are everywhere", () => {
    expectCaught(convergenceAgainst(applyOp, 3000, purgeOnceRemovalsAreEverywhere, churnHistoryArb()));
  });
});
