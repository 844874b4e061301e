/**
 * Turns text into embedding vectors through any OpenAI-compatible `/embeddings` endpoint, in
 * batches, with the client's retries and timeout. Vectors come back as pgvector text literals
 * (`[0.1,0.2,…]`), ready to bind as query parameters.
 *
 * It must never write to the database and never log the text it embeds. Callers decide what a
 * failure means (ingestion stores chunks without vectors; search falls back to full text).
 */
import { Inject, Injectable } from '@nestjs/common';
import OpenAI from 'openai';
import { ragConfig, type RagConfig } from 'src/config/rag.config';
import { RagMetrics } from 'src/rag/rag.metrics';

export class EmbeddingError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EmbeddingError';
  }
}

@Injectable()
export class EmbeddingsClient {
  private readonly client?: OpenAI;

  constructor(
    @Inject(ragConfig.KEY) private readonly config: RagConfig,
    private readonly metrics: RagMetrics,
  ) {
    const settings = config.embeddings;
    if (settings) {
      this.client = new OpenAI({
        apiKey: settings.apiKey,
        baseURL: settings.baseURL,
        timeout: settings.timeoutMs,
        maxRetries: settings.maxRetries,
      });
    }
  }

  get configured(): boolean {
    return this.client !== undefined;
  }

  get model(): string | undefined {
    return this.config.embeddings?.model;
  }

  /**
   * One vector literal per text, in order. `dimensions` is the size the database column holds;
   * a server that answers with another size is misconfigured, and nothing is returned.
   */
  async embed(texts: readonly string[], dimensions: number, signal?: AbortSignal): Promise<string[]> {
    const settings = this.config.embeddings;
    if (!this.client || !settings) throw new EmbeddingError('no embedding model is configured');
    const out: string[] = [];
    for (let start = 0; start < texts.length; start += settings.batchSize) {
      const batch = texts.slice(start, start + settings.batchSize).map((t) => (t.trim() === '' ? ' ' : t));
      let response: OpenAI.CreateEmbeddingResponse;
      try {
        response = await this.client.embeddings.create(
          {
            model: settings.model,
            input: batch,
            ...(settings.sendDimensions ? { dimensions } : {}),
          },
          { signal },
        );
      } catch (error) {
        this.metrics.embeddingRequest('error');
        throw new EmbeddingError(`embedding request failed: ${describe(error)}`, { cause: error });
      }
      this.metrics.embeddingRequest('ok');
      const ordered = [...response.data].sort((a, b) => a.index - b.index);
      if (ordered.length !== batch.length) {
        throw new EmbeddingError(
          `the embedding server returned ${ordered.length} vectors for ${batch.length} texts`,
        );
      }
      for (const item of ordered) {
        const vector = item.embedding as unknown as number[];
        if (vector.length !== dimensions) {
          throw new EmbeddingError(
            `the embedding model returned ${vector.length} dimensions, the database column holds ${dimensions}`,
          );
        }
        if (!vector.every(Number.isFinite))
          throw new EmbeddingError('the embedding model returned a non-number');
        out.push(toVectorLiteral(vector));
      }
    }
    return out;
  }
}

export function toVectorLiteral(vector: readonly number[]): string {
  return `[${vector.join(',')}]`;
}

function describe(error: unknown): string {
  if (error instanceof OpenAI.APIError) return `${error.status ?? 'no status'} ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
