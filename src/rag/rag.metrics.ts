/**
 * The knowledge base's Prometheus metrics on the shared registry: search latency and result
 * counts by effective mode, ingestions by outcome, failures by error code, embedding calls.
 * Labels are fixed sets only; never a query, a document title or an org.
 */
import { Injectable } from '@nestjs/common';
import type { Counter, Histogram } from 'prom-client';
import { MetricsService } from 'src/metrics/metrics.service';

export type SearchMode = 'hybrid' | 'fulltext' | 'vector';
export type IngestStatus = 'created' | 'updated' | 'unchanged';

@Injectable()
export class RagMetrics {
  private readonly searchDuration: Histogram<'mode'>;
  private readonly searchResults: Histogram<'mode'>;
  private readonly searchFallbacks: Counter<'reason'>;
  private readonly ingestions: Counter<'status'>;
  private readonly ingestionFailures: Counter<'code'>;
  private readonly chunksWritten: Counter<never>;
  private readonly embeddingRequests: Counter<'outcome'>;

  constructor(metrics: MetricsService) {
    this.searchDuration = metrics.histogram(
      'rag_search_duration_seconds',
      'Knowledge-base search latency (database and query embedding) by effective mode',
      ['mode'],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    );
    this.searchResults = metrics.histogram(
      'rag_search_results',
      'Passages returned per knowledge-base search',
      ['mode'],
      [0, 1, 2, 3, 5, 10, 20, 50],
    );
    this.searchFallbacks = metrics.counter(
      'rag_search_fallbacks_total',
      'Hybrid searches that ran on full text only because the query could not be embedded',
      ['reason'],
    );
    this.ingestions = metrics.counter(
      'rag_ingestions_total',
      'Documents ingested, by outcome (created, updated, unchanged)',
      ['status'],
    );
    this.ingestionFailures = metrics.counter(
      'rag_ingestion_failures_total',
      'Documents refused or failed during ingestion, by error code',
      ['code'],
    );
    this.chunksWritten = metrics.counter('rag_chunks_written_total', 'Chunks written by ingestion', []);
    this.embeddingRequests = metrics.counter(
      'rag_embedding_requests_total',
      'Calls to the embeddings endpoint, by outcome (after client retries)',
      ['outcome'],
    );
  }

  search(mode: SearchMode, seconds: number, results: number): void {
    this.searchDuration.observe({ mode }, seconds);
    this.searchResults.observe({ mode }, results);
  }

  searchFallback(reason: 'embedding_failed'): void {
    this.searchFallbacks.inc({ reason });
  }

  ingested(status: IngestStatus, chunks: number): void {
    this.ingestions.inc({ status });
    if (chunks > 0) this.chunksWritten.inc(chunks);
  }

  ingestionFailed(code: string): void {
    this.ingestionFailures.inc({ code });
  }

  embeddingRequest(outcome: 'ok' | 'error'): void {
    this.embeddingRequests.inc({ outcome });
  }
}
