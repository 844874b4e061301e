/**
 * Sweeps what users left behind: uploads never finished (pending past ATTACHMENTS_PENDING_TTL_H),
 * attachments never sent in a message (unlinked past ATTACHMENTS_UNLINKED_TTL_H), and stored
 * objects whose record is gone (a failed delete, a crash between the two steps), and the storage
 * driver's own upload leftovers where it has any. It runs on a timer in every replica (registered
 * with the app's SchedulerRegistry, period from ATTACHMENTS_CLEANUP_INTERVAL_S, 0 = off), and on
 * demand from the admin purge route, which can also report without deleting. A sweep that deletes
 * runs on one replica at a time (a job lease in PostgreSQL): a timer finding it taken skips its
 * turn, an admin gets 409 attachment_cleanup_in_progress. Each step is idempotent all the same.
 * It must never delete an attachment that is linked to a thread, nor bytes whose record exists.
 */
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AttachmentStore, type AttachmentRecord, type ExpiredKind } from 'src/attachments/attachment.store';
import { AttachmentsMetrics } from 'src/attachments/attachments.metrics';
import { idFromStorageKey } from 'src/attachments/attachment.names';
import {
  ATTACHMENT_STORAGE,
  deleteOrphanedBytes,
  type AttachmentStorage,
} from 'src/attachments/storage/attachment-storage';
import { attachmentsConfig, type AttachmentsConfig } from 'src/config/attachments.config';
import { DatabaseLifecycle } from 'src/database/database.lifecycle';
import { JobLeases, type JobLease } from 'src/database/job-leases';
import { AttachmentErrorCode, AttachmentException } from 'src/attachments/attachment.exception';

export interface PurgeSection {
  count: number;
  bytes: number;
  /** The first few ids or keys, for the report. */
  sample: string[];
}

export interface PurgeReport {
  dry_run: boolean;
  /** The org swept, or null for a sweep of everything (the timer, an admin without an org). */
  org_id: string | null;
  started_at: string;
  duration_ms: number;
  pending_expired: PurgeSection;
  unlinked_expired: PurgeSection;
  orphaned_objects: PurgeSection;
  stale_temp_files: number;
}

const BATCH = 200;
const SAMPLE = 50;
const KEY_BATCH = 500;
/** Upload temp files older than this belong to a process that died mid-upload. */
const STALE_TEMP_MS = 6 * 3600_000;
/** Names in the SchedulerRegistry: the delayed first sweep, then the periodic one. */
const FIRST_SWEEP = 'attachments.cleanup.first';
const SWEEP = 'attachments.cleanup';
/** The job lease's name, and how long it lives without progress (each batch extends it). */
const LEASE = 'attachments.cleanup';
const LEASE_TTL_MS = 5 * 60_000;

@Injectable()
export class AttachmentsCleanup implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('AttachmentsCleanup');
  private running?: Promise<PurgeReport>;

  constructor(
    private readonly store: AttachmentStore,
    @Inject(ATTACHMENT_STORAGE) private readonly storage: AttachmentStorage,
    private readonly metrics: AttachmentsMetrics,
    private readonly database: DatabaseLifecycle,
    private readonly scheduler: SchedulerRegistry,
    private readonly leases: JobLeases,
    @Inject(attachmentsConfig.KEY) private readonly config: AttachmentsConfig,
  ) {}

  onApplicationBootstrap(): void {
    const every = this.config.cleanupIntervalMs;
    if (every <= 0) return;
    // Spread replicas that started together; the first sweep comes soon after boot. The period
    // is configured, so the timers are registered by hand rather than declared with @Interval.
    const first = Math.min(every, 60_000) + Math.floor(Math.random() * Math.min(every, 30_000));
    const start = setTimeout(() => {
      this.scheduler.deleteTimeout(FIRST_SWEEP);
      this.tick();
      const interval = setInterval(() => this.tick(), every);
      interval.unref();
      this.scheduler.addInterval(SWEEP, interval);
    }, first);
    start.unref();
    this.scheduler.addTimeout(FIRST_SWEEP, start);
  }

  /** The scheduler clears every registered timer before shutdown too; this keeps the sweep's own stop explicit. */
  onApplicationShutdown(): void {
    if (this.scheduler.doesExist('timeout', FIRST_SWEEP)) this.scheduler.deleteTimeout(FIRST_SWEEP);
    if (this.scheduler.doesExist('interval', SWEEP)) this.scheduler.deleteInterval(SWEEP);
  }

  /**
   * One sweep at a time: in this process a caller waits for the one in progress; across replicas
   * a sweep that deletes needs the job lease, and throws attachment_cleanup_in_progress while
   * another replica holds it (a dry run only reads, so it needs none). With `orgId` only that
   * org's records are swept; stored objects without a record and temp files belong to no org, so
   * an org's sweep leaves them to the timer and to admins of the whole deployment.
   */
  run(opts: { dryRun: boolean; now?: Date; orgId?: string }): Promise<PurgeReport> {
    if (this.running) return this.running.then(() => this.run(opts));
    const sweep = this.leased(opts.dryRun, opts.now ?? new Date(), opts.orgId).finally(
      () => (this.running = undefined),
    );
    this.running = sweep;
    return sweep;
  }

  private async leased(dryRun: boolean, now: Date, orgId?: string): Promise<PurgeReport> {
    if (dryRun) return this.sweep(dryRun, now, orgId);
    const lease = await this.leases.tryAcquire(LEASE, LEASE_TTL_MS);
    if (!lease) {
      this.metrics.cleanupRuns.inc({ result: 'skipped' });
      throw new AttachmentException(
        AttachmentErrorCode.CleanupInProgress,
        'the attachment cleanup is already running on another replica; try again when it is done',
        { 'Retry-After': '30' },
      );
    }
    try {
      const report = await this.sweep(dryRun, now, orgId, lease);
      this.metrics.cleanupRuns.inc({ result: 'ok' });
      return report;
    } catch (err) {
      this.metrics.cleanupRuns.inc({ result: 'failed' });
      throw err;
    } finally {
      await lease.release();
    }
  }

  private async sweep(dryRun: boolean, now: Date, orgId?: string, lease?: JobLease): Promise<PurgeReport> {
    const started = Date.now();
    const pending = await this.expired(
      'pending',
      new Date(now.getTime() - this.config.pendingTtlMs),
      dryRun,
      orgId,
      lease,
    );
    const unlinked = await this.expired(
      'unlinked',
      new Date(now.getTime() - this.config.unlinkedTtlMs),
      dryRun,
      orgId,
      lease,
    );
    const everything = orgId === undefined;
    const orphans = everything ? await this.orphans(dryRun, lease) : { count: 0, bytes: 0, sample: [] };
    let staleTemp = 0;
    if (everything && !dryRun && this.storage.sweepTemp) {
      staleTemp = await this.storage.sweepTemp(STALE_TEMP_MS, now);
    }
    const report: PurgeReport = {
      dry_run: dryRun,
      org_id: orgId ?? null,
      started_at: new Date(started).toISOString(),
      duration_ms: Date.now() - started,
      pending_expired: pending,
      unlinked_expired: unlinked,
      orphaned_objects: orphans,
      stale_temp_files: staleTemp,
    };
    const total = pending.count + unlinked.count + orphans.count + staleTemp;
    if (total > 0 || dryRun) {
      this.logger.log(
        {
          event: 'attachment.cleanup',
          dryRun,
          orgId,
          pendingExpired: pending.count,
          unlinkedExpired: unlinked.count,
          orphanedObjects: orphans.count,
          staleTempFiles: staleTemp,
          bytes: pending.bytes + unlinked.bytes,
          durationMs: report.duration_ms,
          pendingIds: pending.sample,
          unlinkedIds: unlinked.sample,
          orphanKeys: orphans.sample,
        },
        dryRun ? 'attachment cleanup (dry run): would remove' : 'attachment cleanup removed',
      );
    }
    return report;
  }

  private async expired(
    kind: ExpiredKind,
    before: Date,
    dryRun: boolean,
    orgId: string | undefined,
    lease: JobLease | undefined,
  ): Promise<PurgeSection> {
    const section: PurgeSection = { count: 0, bytes: 0, sample: [] };
    let after: AttachmentRecord | undefined;
    for (;;) {
      await this.keep(lease);
      const batch = await this.store.findExpired(kind, before, BATCH, after, orgId);
      if (!batch.length) break;
      after = batch[batch.length - 1];
      for (const record of batch) {
        if (dryRun) {
          this.count(section, record.id, record.size);
        } else if (await this.store.deleteIfExpired(kind, record.id, before)) {
          await this.deleteBytes(record);
          this.count(section, record.id, record.size);
          this.metrics.cleanupRemoved.inc({ kind });
        }
      }
      if (batch.length < BATCH) break;
    }
    return section;
  }

  private async orphans(dryRun: boolean, lease: JobLease | undefined): Promise<PurgeSection> {
    const section: PurgeSection = { count: 0, bytes: 0, sample: [] };
    let keys: string[] = [];
    const flush = async () => {
      await this.keep(lease);
      const owned: Array<{ id: string; key: string }> = [];
      for (const key of keys) {
        const id = idFromStorageKey(key);
        // Keys we did not make (someone else's objects in a shared bucket) are left alone.
        if (id) owned.push({ id, key });
      }
      keys = [];
      // Bytes are alive only under the key their record names: an upload that lost its claim to
      // a retry may have left its own key behind under a record that lives on.
      const alive = await this.store.storageKeysOf([...new Set(owned.map((o) => o.id))]);
      for (const { id, key } of owned) {
        if (alive.get(id) === key) continue;
        const size = (await this.storage.stat(key))?.size ?? 0;
        if (!dryRun) {
          await this.storage.delete(key);
          this.metrics.cleanupRemoved.inc({ kind: 'orphan' });
        }
        this.count(section, key, size);
      }
    };
    for await (const key of this.storage.list()) {
      keys.push(key);
      if (keys.length >= KEY_BATCH) await flush();
    }
    await flush();
    return section;
  }

  /** Extends the job lease between batches; a sweep that lost it stops rather than race another. */
  private async keep(lease: JobLease | undefined): Promise<void> {
    if (lease && !(await lease.extend())) {
      throw new Error('the attachment cleanup lost its job lease (it ran past the lease without progress)');
    }
  }

  /**
   * A timer's sweep: skipped while the database is away or another replica sweeps, never throws
   * into the timer.
   */
  private tick(): void {
    if (!this.database.ready) return;
    this.run({ dryRun: false }).catch((err: unknown) => {
      if (err instanceof AttachmentException && err.code === AttachmentErrorCode.CleanupInProgress) {
        this.logger.debug('attachment cleanup skipped: another replica is sweeping');
        return;
      }
      this.logger.error({ err }, 'attachment cleanup failed');
    });
  }

  private deleteBytes(record: AttachmentRecord): Promise<void> {
    return deleteOrphanedBytes(this.storage, record, this.logger);
  }

  private count(section: PurgeSection, name: string, bytes: number): void {
    section.count += 1;
    section.bytes += bytes;
    if (section.sample.length < SAMPLE) section.sample.push(name);
  }
}
