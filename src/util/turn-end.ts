// Work put off to the end of this event-loop turn, all of it in one
// setImmediate. What is added while that queue runs still runs in this turn:
// a session's batched reply, flushed at turn end into a corked link, makes
// the link schedule its own flush, and with a setImmediate of its own that
// flush would wait for the next turn (Node runs an immediate queued from an
// immediate only in the next turn), after a whole poll phase of other work.
type Task = (arg: never) => void;

export class TurnEndQueue {
  private readonly queue: unknown[] = []; // fn, arg, fn, arg, ...: no closure per call
  private scheduled = false;
  private readonly run = (): void => this.runQueue();

  constructor(private readonly schedule: (run: () => void) => void = (run) => setImmediate(run)) {}

  /** Calls fn(arg) at the end of this turn, after what was added before it. */
  add<T>(fn: (arg: T) => void, arg: T): void {
    this.queue.push(fn, arg);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.run);
    }
  }

  // The whole queue is one immediate, so promise callbacks and nextTicks that
  // a task queues run after the last task, not between tasks as they did
  // when each flush had an immediate of its own: still in this turn.
  private runQueue(): void {
    const queue = this.queue;
    let i = 0;
    try {
      for (; i < queue.length; i += 2) (queue[i] as Task)(queue[i + 1] as never);
    } finally {
      if (i < queue.length) {
        // A task threw: the error goes on as an uncaught one would have, and
        // the tasks after it still run, in the next turn.
        queue.splice(0, i + 2);
        this.schedule(this.run);
      } else {
        queue.length = 0;
        this.scheduled = false;
      }
    }
  }
}

// One per process: the flushes of every connection and link share its turn.
const shared = new TurnEndQueue();

/** Calls fn(arg) at the end of this event-loop turn, after what was added before it. */
export function atTurnEnd<T>(fn: (arg: T) => void, arg: T): void {
  shared.add(fn, arg);
}
