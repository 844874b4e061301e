/**
 * Puts documents into the knowledge base: extract text, cut it into chunks, embed them when a
 * model is configured, and replace the document's chunks in one transaction. Re-ingesting the
 * same bytes under the same source is a no-op ('unchanged'); changed bytes replace the old chunks
 * atomically ('updated'), reusing the stored vectors of chunks whose text did not change.
 *
 * It must never leave a half-ingested document: everything that can fail on the input (format,
 * corrupt file, no text) fails before the transaction opens. A failing embedding server does not
 * fail ingestion; the chunks are stored without vectors for `npm run rag:backfill`. The embedding
 * calls run outside the transaction, so a slow model never holds a database connection.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppException, ErrorCode } from 'src/common/app.exception';
import { ragConfig, type RagConfig } from 'src/config/rag.config';
import { RagCapabilitiesProbe } from 'src/rag/rag.capabilities';
import { chunkDocument, chunkSearchText } from 'src/rag/rag.chunker';
import { EmbeddingError, EmbeddingsClient } from 'src/rag/rag.embeddings';
import { extractText, type DocumentFormat } from 'src/rag/rag.extractors';
import { chunkHash, chunkId, contentHash } from 'src/rag/rag.hash';
import { RagMetrics, type IngestStatus } from 'src/rag/rag.metrics';
import { KnowledgeRepository, type ChunkWrite, type DocumentRecord } from 'src/rag/rag.repository';

export interface IngestInput {
  /** '' puts the document in the global knowledge base that every org searches. */
  orgId: string;
  buffer: Buffer;
  /** Used to recognise the format and as the title of last resort. */
  filename: string;
  mimeType?: string;
  /** Identity of the document inside its org (a URL or a path); defaults to `filename`. */
  source?: string;
  title?: string;
  /** Rebuild the chunks even if nothing changed (after changing the chunk settings). */
  force?: boolean;
}

export interface IngestResult {
  status: IngestStatus;
  document: DocumentRecord;
  /** Chunks stored with a vector (reused or new); absent when nothing was written. */
  embedded?: number;
  /** Why the chunks were stored without vectors, when embedding failed. */
  embeddingError?: string;
}

export interface BackfillProgress {
  embedded: number;
  remaining: number;
}

const FORMAT_MIME: Record<DocumentFormat, string> = {
  markdown: 'text/markdown',
  text: 'text/plain',
  html: 'text/html',
  pdf: 'application/pdf',
};

const MAX_SOURCE_CHARS = 2048;
const MAX_TITLE_CHARS = 500;
// eslint-disable-next-line no-control-regex -- rejecting control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

@Injectable()
export class IngestionService {
  private readonly logger = new Logger('KnowledgeBase');

  constructor(
    @Inject(ragConfig.KEY) private readonly config: RagConfig,
    private readonly repository: KnowledgeRepository,
    private readonly capabilities: RagCapabilitiesProbe,
    private readonly embeddings: EmbeddingsClient,
    private readonly metrics: RagMetrics,
  ) {}

  async ingest(input: IngestInput): Promise<IngestResult> {
    try {
      return await this.run(input);
    } catch (error) {
      this.metrics.ingestionFailed(error instanceof AppException ? error.code : 'internal');
      throw error;
    }
  }

  private async run(input: IngestInput): Promise<IngestResult> {
    const source = validateSource(input.source ?? input.filename);
    const requestedTitle = validateTitle(input.title);
    const hash = contentHash(input.buffer);

    const existing = await this.repository.findDocument(input.orgId, source);
    if (
      existing &&
      !input.force &&
      existing.contentHash === hash &&
      (requestedTitle === undefined || requestedTitle === existing.title)
    ) {
      this.metrics.ingested('unchanged', 0);
      return { status: 'unchanged', document: existing };
    }

    const extracted = await extractText({
      buffer: input.buffer,
      filename: input.filename,
      mimeType: input.mimeType,
    });
    const title = (requestedTitle ?? extracted.title).slice(0, MAX_TITLE_CHARS);
    const chunks = chunkDocument(extracted, {
      maxTokens: this.config.chunkTokens,
      overlapTokens: this.config.chunkOverlap,
    });
    const searchTexts = chunks.map((c) => chunkSearchText(c, title));
    const hashes = chunks.map((c) => chunkHash({ headingPath: [title, ...c.headingPath], text: c.text }));

    const capabilities = await this.capabilities.get();
    const vectors: Array<string | null> = chunks.map(() => null);
    let embeddingError: string | undefined;
    if (capabilities.vectorSearch && chunks.length > 0) {
      const stored = existing
        ? await this.repository.storedEmbeddings(existing.id)
        : new Map<string, string>();
      const missing: number[] = [];
      hashes.forEach((h, i) => {
        const reused = stored.get(h);
        if (reused) vectors[i] = reused;
        else missing.push(i);
      });
      if (missing.length > 0) {
        try {
          const fresh = await this.embeddings.embed(
            missing.map((i) => searchTexts[i]),
            capabilities.dimensions ?? this.config.embeddingDimensions,
          );
          missing.forEach((chunkIndex, k) => (vectors[chunkIndex] = fresh[k]));
        } catch (error) {
          if (!(error instanceof EmbeddingError)) throw error;
          embeddingError = error.message;
          this.logger.warn(
            `${source}: stored without embeddings (${error.message}); run npm run rag:backfill later`,
          );
        }
      }
    }

    const result = await this.repository.replaceDocument(
      {
        orgId: input.orgId,
        title,
        source,
        mimeType: FORMAT_MIME[extracted.format],
        contentHash: hash,
        byteSize: input.buffer.length,
      },
      (documentId): ChunkWrite[] =>
        chunks.map((c, i) => ({
          id: chunkId(`${documentId}:${hash}`, c.index),
          ordinal: c.index,
          headingPath: c.headingPath,
          text: c.text,
          tokenCount: c.tokenCount,
          contentHash: hashes[i],
          searchText: searchTexts[i],
          embedding: vectors[i],
        })),
      {
        textSearchConfig: capabilities.textSearchConfig,
        vectorColumn: capabilities.vectorColumn,
        force: input.force,
      },
    );
    if (result.status === 'unchanged') {
      // A concurrent ingestion of the same bytes got there first.
      this.metrics.ingested('unchanged', 0);
      return { status: 'unchanged', document: result.document };
    }
    this.metrics.ingested(result.status, chunks.length);
    return {
      status: result.status,
      document: result.document,
      embedded: vectors.filter((v) => v !== null).length,
      ...(embeddingError ? { embeddingError } : {}),
    };
  }

  /**
   * Embeds chunks stored without a vector, a batch at a time, until none are left. Stops at the
   * first failing batch (the next run picks up where this one stopped).
   */
  async backfillEmbeddings(onProgress?: (progress: BackfillProgress) => void): Promise<BackfillProgress> {
    const capabilities = await this.capabilities.get();
    if (!capabilities.vectorSearch) {
      throw new AppException(
        ErrorCode.ServiceUnavailable,
        `cannot embed chunks: ${capabilities.vectorUnavailableReason ?? 'vector search is off'}`,
      );
    }
    const dimensions = capabilities.dimensions ?? this.config.embeddingDimensions;
    const batchSize = this.config.embeddings!.batchSize;
    let embedded = 0;
    let after: string | undefined;
    let remaining = await this.repository.countChunksWithoutEmbedding();
    for (;;) {
      const batch = await this.repository.chunksWithoutEmbedding(batchSize, after);
      if (batch.length === 0) break;
      const vectors = await this.embeddings.embed(
        batch.map((c) => c.searchText),
        dimensions,
      );
      await this.repository.setEmbeddings(batch.map((c, i) => ({ id: c.id, embedding: vectors[i] })));
      embedded += batch.length;
      remaining = Math.max(0, remaining - batch.length);
      after = batch[batch.length - 1].id;
      onProgress?.({ embedded, remaining });
    }
    return { embedded, remaining };
  }

  /** Rebuilds the full-text index of chunks indexed with another language; returns how many. */
  async reindexText(onProgress?: (done: number) => void): Promise<number> {
    const { textSearchConfig } = await this.capabilities.get();
    let done = 0;
    for (;;) {
      const n = await this.repository.reindexText(textSearchConfig, 1000);
      if (n === 0) return done;
      done += n;
      onProgress?.(done);
    }
  }
}

function validateSource(source: string): string {
  const trimmed = source.trim();
  if (trimmed === '') throw new AppException(ErrorCode.ValidationFailed, 'source: must not be empty');
  if (trimmed.length > MAX_SOURCE_CHARS)
    throw new AppException(
      ErrorCode.ValidationFailed,
      `source: must be at most ${MAX_SOURCE_CHARS} characters`,
    );
  if (CONTROL.test(trimmed))
    throw new AppException(ErrorCode.ValidationFailed, 'source: must not contain control characters');
  return trimmed;
}

function validateTitle(title: string | undefined): string | undefined {
  const trimmed = title?.replace(/\s+/g, ' ').trim();
  if (!trimmed) return undefined;
  if (trimmed.length > MAX_TITLE_CHARS)
    throw new AppException(
      ErrorCode.ValidationFailed,
      `title: must be at most ${MAX_TITLE_CHARS} characters`,
    );
  return trimmed;
}
