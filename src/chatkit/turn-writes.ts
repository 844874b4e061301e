/**
 * What a streamed turn writes, held until the turn ends and then stored in one statement with
 * the lease's release (ThreadStore.finishTurn): the items the pipeline saw done, replaced or
 * removed, the items the responder saved, the partial answer and marker of a cancelled turn,
 * and the thread when it changed. Per event, a write would be one round trip on the database's
 * socket (and on the embedded database, one turn of its single connection).
 *
 * The price: a process that dies mid-turn loses the items completed in that turn (never the
 * user's message, stored before the responder runs). Every way a live turn ends — completed,
 * failed, cancelled, the client gone, shutdown — ends through the one release that stores them.
 */
import type { ThreadItem, ThreadMetadata } from 'src/protocol/chatkit.schemas';
import type { TurnWriteSet } from 'src/threads/thread.store';

export class TurnWrites {
  /** By item id, in first-write order; null: delete. A later write of the same id wins. */
  private readonly items = new Map<string, ThreadItem | null>();
  private thread: ThreadMetadata | null = null;

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
    const set = { upserts, deletes, thread: this.thread && structuredClone(this.thread) };
    this.items.clear();
    this.thread = null;
    return set;
  }
}
