/**
 * One running response per thread, enforced in PostgreSQL so it holds across replicas: a lease
 * row per thread, taken with an atomic upsert that only succeeds when no live lease exists,
 * extended by a heartbeat while the stream runs, and deleted on completion, error or disconnect.
 * If the process dies, the lease simply expires (CHATKIT_RUN_LOCK_TTL_S) and the thread is free.
 *
 * It must never hold a database connection for the length of a stream: the embedded database
 * has exactly one.
 */
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppException, ErrorCode } from 'src/common/app.exception';
import { chatkitConfig, type ChatKitConfig } from 'src/config/chatkit.config';

export interface RunLease {
  release(): Promise<void>;
}

@Injectable()
export class ThreadRunLock {
  private readonly logger = new Logger('ThreadRunLock');
  private readonly instance = randomUUID();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(chatkitConfig.KEY) private readonly config: ChatKitConfig,
  ) {}

  /** Takes the thread's lease or throws 409 thread_busy. */
  async acquire(threadId: string, requestId: string): Promise<RunLease> {
    const owner = `${this.instance}:${requestId}`.slice(0, 128);
    const ttl = `${this.config.runLockTtlMs} milliseconds`;
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO thread_runs (thread_id, owner, acquired_at, expires_at)
       VALUES ($1, $2, now(), now() + $3::interval)
       ON CONFLICT (thread_id) DO UPDATE
         SET owner = EXCLUDED.owner, acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
         WHERE thread_runs.expires_at < now()
       RETURNING owner`,
      [threadId, owner, ttl],
    );
    if (!rows.length) {
      throw new AppException(
        ErrorCode.ThreadBusy,
        'a response is already streaming on this thread; wait for it or stop it',
      );
    }
    const heartbeat = setInterval(
      () => {
        this.dataSource
          .query(
            `UPDATE thread_runs SET expires_at = now() + $3::interval WHERE thread_id = $1 AND owner = $2`,
            [threadId, owner, ttl],
          )
          .catch((err: Error) =>
            this.logger.warn(`could not extend the run lease of a thread: ${err.message}`),
          );
      },
      Math.max(1000, Math.floor(this.config.runLockTtlMs / 3)),
    );
    heartbeat.unref();
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(heartbeat);
        await this.dataSource
          .query(`DELETE FROM thread_runs WHERE thread_id = $1 AND owner = $2`, [threadId, owner])
          .catch((err: Error) =>
            this.logger.warn(`could not release the run lease of a thread: ${err.message}`),
          );
      },
    };
  }
}
