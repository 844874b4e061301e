/**
 * Owns the connection's life: connects and migrates at start-up, keeps retrying in the background
 * when the database is unreachable (the app still serves health, metrics and docs meanwhile),
 * and closes the connection, then the embedded database, at shutdown.
 *
 * It must never block the process from starting because the database is down.
 */
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { databaseConfig, type DatabaseConfig } from 'src/config/database.config';
import { classifyDatabaseError } from 'src/database/database.errors';
import { EmbeddedPostgres } from 'src/database/embedded-postgres';

/** An arbitrary constant shared by every replica of this app. */
const MIGRATION_LOCK_ID = 7_319_420_001;

@Injectable()
export class DatabaseLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private retryTimer?: NodeJS.Timeout;
  private connecting?: Promise<boolean>;
  private stopped = false;
  private migrated = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
    private readonly embedded: EmbeddedPostgres,
  ) {}

  /** True once connected and migrated; the pool itself recovers from later outages. */
  get ready(): boolean {
    return this.dataSource.isInitialized && this.migrated;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!(await this.connect())) this.scheduleRetry();
  }

  /** One attempt to connect and migrate; safe to call concurrently. */
  connect(): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    this.connecting ??= this.attempt().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async attempt(): Promise<boolean> {
    try {
      if (!this.dataSource.isInitialized) await this.dataSource.initialize();
      if (this.config.runMigrations && !this.migrated) await this.migrate();
      this.migrated = true;
      this.logger.log(`connected (${this.config.embedded ? 'embedded PostgreSQL' : 'PostgreSQL server'})`);
      return true;
    } catch (err) {
      const message = (err as Error).message;
      const failure = classifyDatabaseError(err);
      if (failure === 'misconfigured') {
        // Retrying goes on (the database may be created or the role fixed meanwhile), but this
        // one needs an operator, not patience.
        this.logger.error(`the database rejects the configured credentials or database name: ${message}`);
      } else if (failure) {
        this.logger.warn(`database unavailable (${failure}): ${message}`);
      } else {
        // Connected, but start-up failed for another reason (a migration that does not apply).
        this.logger.error(`database start-up failed: ${message}`);
      }
      return false;
    }
  }

  /**
   * Replicas starting together would race on the migrations table; an advisory lock held on a
   * connection of its own makes them take turns (the later ones find nothing left to apply).
   * The embedded database has a single connection and a single process, so it needs none.
   */
  private async migrate(): Promise<void> {
    const lock = this.config.poolSize > 1 ? this.dataSource.createQueryRunner() : undefined;
    try {
      if (lock) await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
      const applied = await this.dataSource.runMigrations({ transaction: 'each' });
      if (applied.length)
        this.logger.log(`applied ${applied.length} migration(s): ${applied.map((m) => m.name).join(', ')}`);
    } finally {
      if (lock) {
        await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
        await lock.release();
      }
    }
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => {
      void this.connect().then((ok) => {
        if (!ok) this.scheduleRetry();
      });
    }, this.config.retryIntervalMs);
    this.retryTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.connecting?.catch(() => undefined);
    if (this.dataSource.isInitialized) await this.dataSource.destroy().catch(() => undefined);
    await this.embedded.stop();
  }
}
