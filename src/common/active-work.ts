/**
 * Work that must finish before the database closes at shutdown — above all the clean-up of
 * streams cut by the shutdown itself (storing partial answers). Graceful shutdown waits for it.
 */
import { Injectable } from '@nestjs/common';

@Injectable()
export class ActiveWork {
  private readonly pending = new Set<Promise<unknown>>();

  get size(): number {
    return this.pending.size;
  }

  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.finally(() => this.pending.delete(settled));
    this.pending.add(settled);
    return work;
  }

  /** Resolves when everything tracked has settled, or after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.allSettled([...this.pending]), timeout]);
    clearTimeout(timer);
  }
}
