// relay(a, b): bytes both ways with back-pressure (pipe pauses the source when
// the destination's buffer is full). When one side's readable ends, the other
// side's writable is ended (half-close carries over, e.g. to a MuxStream END);
// when either side errors or closes early, both are destroyed.
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
    const done = (err?: Error | null): void => {
      if (err) teardown();
      if (--pending === 0) {
        // Both finished cleanly (or were torn down): release what is left.
        teardown();
        resolve();
      }
    };
    finished(a, done);
    finished(b, done);
    a.pipe(b);
    b.pipe(a);
  });
}
