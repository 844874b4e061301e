/**
 * What the connected database can do for the knowledge base, found out once after it is ready:
 * whether `chunks.embedding` exists (pgvector was installed when the migration ran) and its size,
 * whether pgvector is new enough for filtered HNSW scans, and whether the configured text-search
 * language exists. Each limitation is logged once, at start-up, in words an operator can act on.
 *
 * It must never fail the app: a missing extension or a bad language means less capable search,
 * not a crash.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ragConfig, type RagConfig } from 'src/config/rag.config';

export interface RagCapabilities {
  /** `chunks.embedding` exists. */
  vectorColumn: boolean;
  /** Its size, when it exists. */
  dimensions?: number;
  /** pgvector ≥ 0.8 keeps scanning an HNSW index until enough rows pass the org filter. */
  iterativeScan: boolean;
  /** Embeddings are configured and can be stored: vector and hybrid search are possible. */
  vectorSearch: boolean;
  /** Why vector search is off, for error messages; undefined when it is on. */
  vectorUnavailableReason?: string;
  /** The text-search configuration actually used (the configured one, or `simple`). */
  textSearchConfig: string;
}

@Injectable()
export class RagCapabilitiesProbe {
  private readonly logger = new Logger('KnowledgeBase');
  private probing?: Promise<RagCapabilities>;
  private known?: RagCapabilities;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(ragConfig.KEY) private readonly config: RagConfig,
  ) {}

  /** Probes on first call (and again after a failed probe); later calls are free. */
  get(): Promise<RagCapabilities> {
    if (this.known) return Promise.resolve(this.known);
    this.probing ??= this.probe()
      .then((found) => (this.known = found))
      .finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async probe(): Promise<RagCapabilities> {
    const rows: Array<{ dims: number; version: string | null }> = await this.dataSource.query(
      `SELECT a.atttypmod AS dims, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS version
         FROM pg_attribute a
        WHERE a.attrelid = to_regclass('chunks') AND a.attname = 'embedding' AND NOT a.attisdropped`,
    );
    const textSearchConfig = await this.checkTextSearchConfig();
    const column = rows[0];
    const capabilities: RagCapabilities = {
      vectorColumn: column !== undefined,
      dimensions: column && column.dims > 0 ? column.dims : undefined,
      iterativeScan: column?.version ? versionAtLeast(column.version, [0, 8]) : false,
      vectorSearch: false,
      textSearchConfig,
    };
    if (!capabilities.vectorColumn) {
      capabilities.vectorUnavailableReason =
        'pgvector is not installed on this database server, so there is no embedding column';
      this.logger.warn('pgvector not available: search runs on full text only');
    } else if (!this.config.embeddings) {
      capabilities.vectorUnavailableReason = 'no embedding model is configured (RAG_EMBEDDINGS_MODEL)';
      this.logger.log('no embedding model configured (RAG_EMBEDDINGS_MODEL): search runs on full text only');
    } else {
      capabilities.vectorSearch = true;
      if (
        capabilities.dimensions !== undefined &&
        capabilities.dimensions !== this.config.embeddingDimensions
      ) {
        this.logger.warn(
          `chunks.embedding holds ${capabilities.dimensions} dimensions but RAG_EMBEDDING_DIMENSIONS is ` +
            `${this.config.embeddingDimensions}; embeddings are requested with ${capabilities.dimensions}`,
        );
      }
    }
    return capabilities;
  }

  private async checkTextSearchConfig(): Promise<string> {
    const wanted = this.config.textSearchConfig;
    const rows: Array<{ found: boolean }> = await this.dataSource.query(
      `SELECT EXISTS (
         SELECT 1 FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
          WHERE c.cfgname = $1 AND ($2::text IS NULL OR n.nspname = $2)
       ) AS found`,
      wanted.includes('.') ? [wanted.split('.')[1], wanted.split('.')[0]] : [wanted, null],
    );
    if (rows[0]?.found) return wanted;
    this.logger.error(
      `text search configuration "${wanted}" (RAG_TEXT_SEARCH_CONFIG) does not exist on this database; using "simple"`,
    );
    return 'simple';
  }
}

function versionAtLeast(version: string, wanted: number[]): boolean {
  const parts = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < wanted.length; i++) {
    if ((parts[i] ?? 0) !== wanted[i]) return (parts[i] ?? 0) > wanted[i];
  }
  return true;
}
