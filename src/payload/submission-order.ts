// Delivers results of concurrently running async work in submission order (one instance per
// session): bulk work on the threadpool may finish late, yet a session's messages never overtake.

export class SubmissionOrder<T> {
  private tail: Promise<void> = Promise.resolve();

  /** `deliver` is called with each task's outcome, strictly in the order submit() was called. */
  constructor(private readonly deliver: (outcome: { ok: true; value: T } | { ok: false; error: unknown }) => void) {}

  submit(task: Promise<T>): void {
    const settled = task.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    this.tail = this.tail.then(async () => {
      const outcome = await settled;
      try {
        this.deliver(outcome);
      } catch {
        // a listener never throws into the queue
      }
    });
  }

  /** Resolves when everything submitted so far was delivered. */
  drained(): Promise<void> {
    return this.tail;
  }
}
