/**
 * What a streamed turn writes, held until the turn ends and then stored in one statement with
 * the lease's release (ThreadStore.finishTurn): the items the pipeline saw done, replaced or
 * removed, the items the responder saved, the partial answer and marker of a cancelled turn,
 * the thread when it changed, and the tokens of every model call (stored per model, see
 * src/usage/usage.sql.ts). Per event, a write would be one round trip on the database's
 * socket (and on the embedded database, one turn of its single connection).
 *
 * The price: a process that dies mid-turn loses the items completed in that turn (never the
 * user's message, stored before the responder runs). Every way a live turn ends — completed,
 * failed, cancelled, the client gone, shutdown — ends through the one release that stores them.
 */
import type { ThreadItem, ThreadMetadata } from 'src/protocol/chatkit.schemas';
import type { TurnWriteSet } from 'src/threads/thread.store';
import { totalTokens, type ModelCallUsage, type ModelUsageRow } from 'src/usage/usage.types';

export class TurnWrites {
  /** By item id, in first-write order; null: delete. A later write of the same id wins. */
  private readonly items = new Map<string, ThreadItem | null>();
  private thread: ThreadMetadata | null = null;
  /** By model: the calls not yet taken. */
  private readonly usage = new Map<string, ModelUsageRow>();
  /** Total tokens of the whole turn, taken or not: what settles its budget hold. */
  private spentTotal = 0;

  upsert(item: ThreadItem): void {
    this.items.set(item.id, item);
  }

  delete(itemId: string): void {
    this.items.set(itemId, null);
  }

  /** The thread as it is when the turn ends is what gets stored. */
  saveThread(thread: ThreadMetadata): void {
    this.thread = thread;
  }

  recordUsage(call: ModelCallUsage): void {
    const row = this.usage.get(call.model) ?? {
      model: call.model,
      input_tokens: 0,
      cached_input_tokens: 0,
      output_tokens: 0,
      reasoning_tokens: 0,
      requests: 0,
    };
    row.input_tokens += call.inputTokens;
    row.cached_input_tokens += call.cachedInputTokens;
    row.output_tokens += call.outputTokens;
    row.reasoning_tokens += call.reasoningTokens;
    row.requests += 1;
    this.usage.set(call.model, row);
    this.spentTotal += totalTokens(call);
  }

  /** Total tokens the turn spent so far. */
  get spent(): number {
    return this.spentTotal;
  }

  /** Whether anything is held. */
  get pending(): boolean {
    return this.items.size > 0;
  }

  /**
   * `stored` (the newest items, oldest first) as they will be once the held writes are stored:
   * held items replace their stored copies, new ones follow, deleted ones are gone; the newest
   * `limit`.
   */
  overlay(stored: ThreadItem[], limit: number): ThreadItem[] {
    const out: ThreadItem[] = [];
    for (const item of stored) {
      if (!this.items.has(item.id)) out.push(item);
      else if (this.items.get(item.id)) out.push(this.items.get(item.id)!);
    }
    const seen = new Set(stored.map((item) => item.id));
    for (const [id, item] of this.items) if (item && !seen.has(id)) out.push(item);
    return out.slice(-Math.max(1, limit));
  }

  /** Everything held so far, and a clean slate. */
  take(): TurnWriteSet {
    const upserts: ThreadItem[] = [];
    const deletes: string[] = [];
    for (const [id, item] of this.items) {
      if (item) upserts.push(item);
      else deletes.push(id);
    }
    const set: TurnWriteSet = {
      upserts,
      deletes,
      thread: this.thread && structuredClone(this.thread),
      usage: [...this.usage.values()],
    };
    this.items.clear();
    this.thread = null;
    this.usage.clear();
    return set;
  }
}
