/**
 * Knowledge-base search for the REST route, the agent's tool and the offline responder. Hybrid by
 * default: full-text rank and vector similarity fused by reciprocal rank; full text alone when
 * the database has no pgvector, no embedding model is configured, or the query cannot be
 * embedded right now. The response says which mode actually ran.
 *
 * Every search is scoped to the caller's org plus the global documents (org ''), taken from the
 * RequestContext and never from the query. It must never return another org's passages.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppException, ErrorCode } from 'src/common/app.exception';
import type { RequestContext } from 'src/common/request-context';
import { ragConfig, type RagConfig } from 'src/config/rag.config';
import { ATTR, withSpan } from 'src/telemetry/tracer';
import { RagCapabilitiesProbe } from 'src/rag/rag.capabilities';
import { EmbeddingError, EmbeddingsClient } from 'src/rag/rag.embeddings';
import { RagMetrics, type SearchMode } from 'src/rag/rag.metrics';
import {
  KnowledgeRepository,
  NO_TERM_STATISTICS,
  type SearchRow,
  type TermStatistics,
} from 'src/rag/rag.repository';

export const SEARCH_MODES = ['hybrid', 'fulltext', 'vector'] as const;
export const DEFAULT_SEARCH_LIMIT = 5;
export const MAX_SEARCH_LIMIT = 50;

/** Rows each ranking contributes to the fusion; the final list is cut to `limit` after it. */
const MIN_CANDIDATES = 50;

/** The term statistics behind full-text pruning are re-read every minute. */
const STATISTICS_TTL_MS = 60_000;

/** Quotes, a standalone OR, or a -word: the caller wrote web-search syntax and means it. */
const WEBSEARCH_SYNTAX = /"|(^|\s)-[\p{L}\p{N}]|(^|\s)OR(\s|$)/u;

export interface SearchParams {
  q: string;
  limit?: number;
  mode?: SearchMode;
}

export type SearchResult = SearchRow;

export interface SearchResponse {
  query: string;
  /** The mode that ran: `hybrid` asked for on a database without vectors runs as `fulltext`. */
  mode: SearchMode;
  results: SearchResult[];
}

/** One passage of a search for the agent and the offline responder. */
export interface KnowledgePassage {
  text: string;
  title: string;
  /** A URL, or a path / file name inside the knowledge base. */
  source: string;
  score: number;
}

@Injectable()
export class SearchService {
  private readonly logger = new Logger('KnowledgeBase');
  private statistics?: { value: TermStatistics; readAt: number };

  constructor(
    @Inject(ragConfig.KEY) private readonly config: RagConfig,
    private readonly repository: KnowledgeRepository,
    private readonly capabilities: RagCapabilitiesProbe,
    private readonly embeddings: EmbeddingsClient,
    private readonly metrics: RagMetrics,
  ) {}

  /** The REST search: validates the query and reports problems as 400s. */
  async query(ctx: RequestContext, params: SearchParams): Promise<SearchResponse> {
    const q = params.q.trim();
    if (q === '') throw new AppException(ErrorCode.ValidationFailed, 'q: the search query must not be empty');
    if (q.length > this.config.maxQueryChars) {
      throw new AppException(
        ErrorCode.ValidationFailed,
        `q: the search query is ${q.length} characters long; the limit is ${this.config.maxQueryChars}`,
      );
    }
    return this.run(ctx, q, params.limit ?? DEFAULT_SEARCH_LIMIT, params.mode ?? 'hybrid');
  }

  /** For the agent's tool and the offline responder: long questions are cut, not refused. */
  async search(query: string, context: RequestContext, limit: number): Promise<KnowledgePassage[]> {
    const q = truncateAtWord(query.trim(), this.config.maxQueryChars);
    if (q === '') return [];
    const response = await this.run(context, q, limit, 'hybrid');
    return response.results.map((r) => ({
      text: r.text,
      title: r.title,
      source: r.source,
      score: r.score,
    }));
  }

  /** Hybrid search results with everything the agent tool needs to cite them. */
  async searchForTool(context: RequestContext, query: string, limit: number): Promise<SearchResult[]> {
    const q = truncateAtWord(query.trim(), this.config.maxQueryChars);
    if (q === '') return [];
    return (await this.run(context, q, limit, 'hybrid')).results;
  }

  /** Traced as `knowledge_base search`: the mode asked for, the one that ran and the result count. */
  private run(ctx: RequestContext, q: string, limit: number, requested: SearchMode): Promise<SearchResponse> {
    return withSpan(
      'knowledge_base search',
      { [ATTR.RAG_SEARCH_REQUESTED_MODE]: requested },
      async (span) => {
        const response = await this.searchIn(ctx, q, limit, requested);
        span.setAttributes({
          [ATTR.RAG_SEARCH_MODE]: response.mode,
          [ATTR.RAG_RESULT_COUNT]: response.results.length,
        });
        return response;
      },
    );
  }

  private async searchIn(
    ctx: RequestContext,
    q: string,
    limit: number,
    requested: SearchMode,
  ): Promise<SearchResponse> {
    const started = performance.now();
    const capabilities = await this.capabilities.get();
    const boundedLimit = Math.min(Math.max(1, Math.trunc(limit)), MAX_SEARCH_LIMIT);
    let mode: SearchMode = requested;
    if (mode !== 'fulltext' && !capabilities.vectorSearch) {
      if (mode === 'vector') {
        throw new AppException(
          'vector_search_unavailable',
          `mode=vector is not available: ${capabilities.vectorUnavailableReason}`,
          400,
        );
      }
      mode = 'fulltext';
    }
    let vector: string | undefined;
    if (mode !== 'fulltext') {
      try {
        [vector] = await this.embeddings.embed(
          [q],
          capabilities.dimensions ?? this.config.embeddingDimensions,
        );
      } catch (error) {
        if (!(error instanceof EmbeddingError)) throw error;
        if (mode === 'vector') {
          throw new AppException(
            ErrorCode.ServiceUnavailable,
            'the embedding server is not answering; try again shortly or use mode=fulltext',
          );
        }
        this.logger.warn(`query embedding failed, searching full text only: ${error.message}`);
        this.metrics.searchFallback('embedding_failed');
        mode = 'fulltext';
      }
    }
    const results = await this.repository.search({
      orgIds: ctx.orgId ? [ctx.orgId, ''] : [''],
      text: q,
      websearch: WEBSEARCH_SYNTAX.test(q),
      mode,
      vector,
      maxDistance: 1 - this.config.vectorMinSimilarity,
      limit: boundedLimit,
      candidates: Math.max(MIN_CANDIDATES, boundedLimit * 2),
      textSearchConfig: capabilities.textSearchConfig,
      iterativeScan: capabilities.iterativeScan,
      termStatistics: mode === 'vector' ? NO_TERM_STATISTICS : await this.selectionStatistics(),
      rowBudget: this.config.fulltextRowBudget,
      scanCap: this.config.fulltextScanCap,
    });
    this.metrics.search(mode, (performance.now() - started) / 1000, results.length);
    return { query: q, mode, results };
  }

  /** Re-read the term statistics on the next search (after a bulk load and ANALYZE). */
  forgetTermStatistics(): void {
    this.statistics = undefined;
  }

  /**
   * The statistics that price query words, or none when the knowledge base is no larger than the
   * row budget: ranking all of it is then within budget anyway, and the search skips the pricing.
   */
  private async selectionStatistics(): Promise<TermStatistics> {
    const statistics = await this.termStatistics();
    return statistics.rows > this.config.fulltextRowBudget ? statistics : NO_TERM_STATISTICS;
  }

  /** Lexeme frequencies, re-read every minute; a failure only means no pruning. */
  private async termStatistics(): Promise<TermStatistics> {
    const now = performance.now();
    if (this.statistics && now - this.statistics.readAt < STATISTICS_TTL_MS) return this.statistics.value;
    let value = NO_TERM_STATISTICS;
    try {
      value = await this.repository.termStatistics();
    } catch (error) {
      this.logger.debug(`no term statistics: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.statistics = { value, readAt: now };
    return value;
  }
}

function truncateAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return space > max / 2 ? cut.slice(0, space) : cut;
}
