/**
 * Start-up work of the knowledge base, all in the background once the database is connected and
 * migrated: probe what the database can do (which logs, once, when search runs on full text
 * only), warn when chunks were indexed with another text-search language, and — on a fresh
 * embedded database (RAG_SEED_DOCS) — ingest the project's docs so a first `npm start` can answer
 * questions about itself.
 *
 * It must never delay readiness or fail the app: everything here is best effort and logged.
 * Seeding is idempotent (unchanged files are skipped by content hash) and stops at shutdown.
 */
import { readFile } from 'node:fs/promises';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ragConfig, type RagConfig } from 'src/config/rag.config';
import { DatabaseLifecycle } from 'src/database/database.lifecycle';
import { RagCapabilitiesProbe } from 'src/rag/rag.capabilities';
import { collectFiles, MissingPathError, type FoundFile } from 'src/rag/rag.files';
import { IngestionService } from 'src/rag/rag.ingestion.service';
import { KnowledgeRepository } from 'src/rag/rag.repository';

const POLL_MS = 500;
const SHUTDOWN_WAIT_MS = 10_000;

export interface SeedSummary {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
}

@Injectable()
export class KnowledgeBaseStartup implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('KnowledgeBase');
  private stopped = false;
  private work?: Promise<void>;

  constructor(
    @Inject(ragConfig.KEY) private readonly config: RagConfig,
    private readonly lifecycle: DatabaseLifecycle,
    private readonly probe: RagCapabilitiesProbe,
    private readonly repository: KnowledgeRepository,
    private readonly ingestion: IngestionService,
  ) {}

  onApplicationBootstrap(): void {
    this.work = this.run().catch((error: unknown) =>
      this.logger.warn(`start-up checks failed: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (!this.work) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.work,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_WAIT_MS).unref())),
    ]);
    clearTimeout(timer);
  }

  /** Resolves when the start-up work is over (for tests and the CLI). */
  settled(): Promise<void> {
    return this.work ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    if (!(await this.databaseReady())) return;
    const capabilities = await this.probe.get();
    const stale = await this.repository.countChunksIndexedWithOtherConfig(capabilities.textSearchConfig);
    if (stale > 0) {
      this.logger.warn(
        `${stale} chunk(s) were indexed with another text search configuration than "${capabilities.textSearchConfig}"; ` +
          'run npm run rag:backfill -- --reindex to rebuild them',
      );
    }
    if (this.config.seedDocs) await this.seed();
    // Term statistics drive query pruning on large knowledge bases; the embedded database has no
    // autovacuum to collect them.
    if (!this.stopped) await this.repository.analyze();
  }

  private async databaseReady(): Promise<boolean> {
    while (!this.stopped) {
      if (this.lifecycle.ready) return true;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS).unref());
    }
    return false;
  }

  private async seed(): Promise<SeedSummary> {
    const summary: SeedSummary = { created: 0, updated: 0, unchanged: 0, failed: 0 };
    const files: FoundFile[] = [];
    for (const path of this.config.seedPaths) {
      try {
        files.push(...(await collectFiles([path])));
      } catch (error) {
        if (!(error instanceof MissingPathError)) throw error;
        this.logger.warn(`RAG_SEED_PATH: ${error.message}; nothing seeded from it`);
      }
    }
    for (const file of files) {
      if (this.stopped) break;
      try {
        const result = await this.ingestion.ingest({
          orgId: '',
          buffer: await readFile(file.path),
          filename: file.path,
          source: file.source,
        });
        summary[result.status]++;
      } catch (error) {
        summary.failed++;
        this.logger.warn(
          `seeding ${file.source} failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    if (summary.created + summary.updated + summary.failed > 0) {
      this.logger.log(
        `seeded the knowledge base from ${this.config.seedPaths.join(', ')}: ${summary.created} created, ` +
          `${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.failed} failed`,
      );
    }
    return summary;
  }
}
