/**
 * One running response per thread, enforced in PostgreSQL so it holds across replicas: a lease
 * row per thread, taken with an atomic upsert that only succeeds when no live lease exists,
 * extended by a heartbeat while the stream runs, and deleted on completion, error or disconnect.
 * If the process dies, the lease simply expires (CHATKIT_RUN_LOCK_TTL_S) and the thread is free.
 * If the release itself fails (the database went away with the stream), it is retried in the
 * background until the database is back, so the thread is free again then rather than only when
 * the lease runs out.
 *
 * It must never hold a database connection for the length of a stream: the embedded database
 * has exactly one.
 */
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ThreadRunEntity } from 'src/chatkit/thread-run.entity';
import { AppException, ErrorCode } from 'src/common/app.exception';
import { chatkitConfig, type ChatKitConfig } from 'src/config/chatkit.config';
import { ATTR, withSpan } from 'src/telemetry/tracer';
import type { LeaseClaim } from 'src/threads/thread.store';

/** The span of taking a thread's run lease, whichever statement takes it. */
export const LEASE_SPAN = 'chatkit run lease';

export interface RunLease {
  /** Gives the lease back (deletes its row); retried in the background if that fails. */
  release(): Promise<void>;
  /**
   * Gives the lease back through `write`, a statement that also deletes the lease row (the end
   * of a turn: its items, its thread and the lease in one round trip). Says whether `write`
   * went through; when it did not, the lease is released on its own, as by release().
   */
  releaseWith(write: (owner: string) => Promise<void>): Promise<boolean>;
}

/** The first retry of a failed release, doubled after each failure up to the cap. */
const RELEASE_RETRY_FIRST_MS = 200;
const RELEASE_RETRY_MAX_MS = 2_000;
/** The longest a client is told to wait before trying a busy thread again. */
const BUSY_RETRY_AFTER_MAX_S = 5;

@Injectable()
export class ThreadRunLock implements OnApplicationShutdown {
  private readonly logger = new Logger('ThreadRunLock');
  private readonly instance = randomUUID();
  private readonly releaseRetries = new Set<NodeJS.Timeout>();

  constructor(
    @InjectRepository(ThreadRunEntity) private readonly runs: Repository<ThreadRunEntity>,
    @Inject(chatkitConfig.KEY) private readonly config: ChatKitConfig,
  ) {}

  /** Takes the thread's lease or throws 409 thread_busy. */
  acquire(threadId: string, requestId: string): Promise<RunLease> {
    return withSpan(LEASE_SPAN, { [ATTR.CHATKIT_LEASE_METHOD]: 'acquire' }, async (span) => {
      const lease = await this.take(threadId, requestId);
      span.setAttribute(ATTR.CHATKIT_LEASE_ACQUIRED, true);
      return lease;
    });
  }

  private async take(threadId: string, requestId: string): Promise<RunLease> {
    const claim = this.claim(requestId);
    // Written out: taking a lease is one atomic upsert that succeeds only over an expired one.
    const rows: unknown[] = await this.runs.query(
      `INSERT INTO thread_runs (thread_id, owner, acquired_at, expires_at)
       VALUES ($1, $2, now(), now() + $3::interval)
       ON CONFLICT (thread_id) DO UPDATE
         SET owner = EXCLUDED.owner, acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
         WHERE thread_runs.expires_at < now()
       RETURNING owner`,
      [threadId, claim.owner, `${claim.ttlMs} milliseconds`],
    );
    if (!rows.length) throw this.busy(await this.busyFor(threadId));
    return this.held(threadId, claim);
  }

  /**
   * The lease a request would take, for a statement that takes it together with other writes
   * (ThreadStore.openTurn, createTurn); `held` then keeps it alive.
   */
  claim(requestId: string): LeaseClaim {
    return { owner: `${this.instance}:${requestId}`.slice(0, 128), ttlMs: this.config.runLockTtlMs };
  }

  /** The lease `claim` got on `threadId`: extended by a heartbeat until it is given back. */
  held(threadId: string, claim: LeaseClaim): RunLease {
    const { owner } = claim;
    const ttl = `${claim.ttlMs} milliseconds`;
    // When the lease would run out if no heartbeat got through from now on (local clock, used
    // only to stop retrying a release that no longer matters).
    let expiresAt = Date.now() + claim.ttlMs;
    const heartbeat = setInterval(
      () => {
        const sent = Date.now();
        this.runs
          .createQueryBuilder()
          .update()
          .set({ expiresAt: () => 'now() + CAST(:ttl AS interval)' })
          .where({ threadId, owner })
          .setParameter('ttl', ttl)
          .execute()
          .then(() => (expiresAt = sent + claim.ttlMs))
          .catch((err: Error) =>
            this.logger.warn(`could not extend the run lease of a thread: ${err.message}`),
          );
      },
      Math.max(1000, Math.floor(claim.ttlMs / 3)),
    );
    heartbeat.unref();
    let released = false;
    const releaseAlone = async (): Promise<void> => {
      if (await this.delete(threadId, owner)) return;
      this.logger.warn('could not release the run lease of a thread; retrying until the database answers');
      this.retryRelease(threadId, owner, expiresAt, RELEASE_RETRY_FIRST_MS);
    };
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(heartbeat);
        await releaseAlone();
      },
      releaseWith: async (write) => {
        if (released) return false;
        released = true;
        clearInterval(heartbeat);
        try {
          await write(owner);
          return true;
        } catch (err) {
          this.logger.error(`could not store the end of a turn: ${(err as Error).message}`);
          await releaseAlone();
          return false;
        }
      },
    };
  }

  onApplicationShutdown(): void {
    for (const timer of this.releaseRetries) clearTimeout(timer);
    this.releaseRetries.clear();
  }

  private async delete(threadId: string, owner: string): Promise<boolean> {
    try {
      await this.runs.delete({ threadId, owner });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The caller has moved on (its stream is over), so this runs in the background. It gives up
   * once the lease has run out anyway: from then on, anyone may take the thread.
   */
  private retryRelease(threadId: string, owner: string, expiresAt: number, delayMs: number): void {
    if (Date.now() + delayMs > expiresAt) return;
    const timer = setTimeout(() => {
      this.releaseRetries.delete(timer);
      void this.delete(threadId, owner).then((done) => {
        if (done) this.logger.log('released the run lease of a thread after the database came back');
        else this.retryRelease(threadId, owner, expiresAt, Math.min(delayMs * 2, RELEASE_RETRY_MAX_MS));
      });
    }, delayMs);
    timer.unref();
    this.releaseRetries.add(timer);
  }

  /** How long the lease on `threadId` still runs, in whole seconds, on the database's clock. */
  private async busyFor(threadId: string): Promise<number> {
    const rows: Array<{ wait_s: number }> = await this.runs.query(
      `SELECT GREATEST(1, ceil(extract(epoch FROM expires_at - now())))::int AS wait_s
         FROM thread_runs WHERE thread_id = $1`,
      [threadId],
    );
    return rows[0]?.wait_s ?? 1;
  }

  /**
   * The 409 for a thread whose lease is held for `waitS` more seconds: how long it may take, and
   * when to ask again. The lease's remaining time bounds the wait only if its stream was cut off
   * (a live one extends it), so clients are told to come back sooner than that.
   */
  busy(waitS: number): AppException {
    return new AppException(
      ErrorCode.ThreadBusy,
      `a response is already streaming on this thread; wait for it or stop it (if it was cut off, ` +
        `the thread is free again within ${waitS} s)`,
      409,
      { 'Retry-After': String(Math.min(waitS, BUSY_RETRY_AFTER_MAX_S)) },
    );
  }
}
