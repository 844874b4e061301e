/**
 * Counts database round trips: the pg driver is wrapped in this process (the app runs in it), and
 * every `Client.query` call is one round trip, whatever its text holds. Installed before the app
 * starts: the app's client class binds `query` when a connection is made.
 */
import { Client } from 'pg';

type Query = (...args: unknown[]) => unknown;

export class RoundTrips {
  private recording = false;
  private texts: string[] = [];
  private answers: Array<Promise<unknown[] | undefined>> = [];
  private readonly original: Query;

  constructor() {
    const original = Client.prototype.query as Query;
    this.original = original;
    const record = (text: string, answer: unknown): void => {
      if (!this.recording) return;
      this.texts.push(text);
      this.answers.push(
        answer instanceof Promise
          ? answer.then(
              (result: { rows?: unknown[] }) => result?.rows,
              () => undefined,
            )
          : Promise.resolve(undefined),
      );
    };
    Client.prototype.query = function (this: Client, ...args: unknown[]) {
      const answer = original.apply(this, args);
      record(queryText(args[0]), answer);
      return answer;
    } as typeof Client.prototype.query;
  }

  /** The text (whitespace folded) of every query sent while `work` ran. */
  async during(work: () => Promise<void>): Promise<string[]> {
    this.texts = [];
    this.answers = [];
    this.recording = true;
    try {
      await work();
    } finally {
      this.recording = false;
    }
    return this.texts;
  }

  /** The rows the `index`-th query of the last `during` answered (undefined: none, or it failed). */
  rowsOf(index: number): Promise<unknown[] | undefined> {
    return this.answers[index] ?? Promise.resolve(undefined);
  }

  restore(): void {
    Client.prototype.query = this.original as typeof Client.prototype.query;
  }
}

function queryText(arg: unknown): string {
  const text = typeof arg === 'string' ? arg : ((arg as { text?: string } | null)?.text ?? String(arg));
  return text.replace(/\s+/g, ' ').trim();
}
