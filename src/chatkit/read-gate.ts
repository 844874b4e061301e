/**
 * The read gate of one streaming turn: closed while the turn's client has a full buffer, open
 * otherwise. The SSE writer enters it (an AsyncLocalStorage scope) around its pulls of the
 * turn's events, so the pipeline and the responder behind it run inside it, and whatever reads
 * on the turn's behalf — the model's HTTP response — can find it and stop reading while it is
 * closed; the writer also opens and closes it. That carries a slow client's backpressure past
 * the responder's own queues down to the model connection.
 *
 * It must never hold anyone back for good: opening it (on 'drain', at the end, on abort)
 * releases every waiter, and a gate nobody entered holds back nothing.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export class ReadGate {
  private waiting?: Promise<void>;
  private release?: () => void;

  get closed(): boolean {
    return this.waiting !== undefined;
  }

  close(): void {
    if (this.waiting) return;
    this.waiting = new Promise((resolve) => (this.release = resolve));
  }

  open(): void {
    const release = this.release;
    this.waiting = undefined;
    this.release = undefined;
    release?.();
  }

  /** Resolves once the gate is open (at once if it is). */
  whenOpen(): Promise<void> {
    return this.waiting ?? Promise.resolve();
  }
}

const gates = new AsyncLocalStorage<ReadGate>();

/** Runs `work` with `gate` as the current turn's gate, for everything it starts too. */
export function withReadGate<T>(gate: ReadGate, work: () => T): T {
  return gates.run(gate, work);
}

/** The gate of the turn the caller works for, if it works for one. */
export function currentReadGate(): ReadGate | undefined {
  return gates.getStore();
}
