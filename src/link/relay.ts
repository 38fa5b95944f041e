// relay(a, b): bytes both ways with back-pressure (pipe pauses the source when
// the destination's buffer is full). When one side's readable ends, the other
// side's writable is ended (half-close carries over, e.g. to a MuxStream END).
// When one side is completely done (both directions), nothing more can reach
// it, so the other is ended and, once its pending writes are flushed,
// destroyed. When either side errors or closes early, both are destroyed at once.
import { finished, type Duplex } from "node:stream";

export function relay(a: Duplex, b: Duplex): Promise<void> {
  return new Promise<void>((resolve) => {
    let pending = 2;
    let torn = false;
    const teardown = (): void => {
      if (torn) return;
      torn = true;
      a.unpipe(b);
      b.unpipe(a);
      a.destroy();
      b.destroy();
    };
    const finishOther = (other: Duplex): void => {
      if (other.destroyed) return;
      // Let what was already written to it flush (e.g. a BYE), then close it.
      other.end();
      finished(other, { readable: false }, () => other.destroy());
    };
    const settle = (): void => {
      if (--pending === 0) {
        teardown(); // both are done; release whatever is left
        resolve();
      }
    };
    finished(a, (err) => {
      if (err) teardown();
      else finishOther(b);
      settle();
    });
    finished(b, (err) => {
      if (err) teardown();
      else finishOther(a);
      settle();
    });
    a.pipe(b);
    b.pipe(a);
  });
}
