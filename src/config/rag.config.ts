/**
 * The knowledge base: how documents are cut into chunks, which text-search language indexes them,
 * which embedding model (if any) turns them into vectors, how big an upload and a query may be,
 * and whether the project's own docs are loaded into a fresh embedded database.
 *
 * Embeddings reuse the agent's OpenAI settings (OPENAI_API_KEY, OPENAI_BASE_URL) unless
 * RAG_EMBEDDINGS_API_KEY / RAG_EMBEDDINGS_BASE_URL point somewhere else. Reading this namespace must
 * never contact the embedding server or the database.
 */
import { registerAs } from '@nestjs/config';
import { z } from 'zod';
import { agentEnvShape } from 'src/config/agent.config';
import {
  ConfigValidationError,
  envBoolean,
  envInt,
  envList,
  envNumber,
  envString,
  envUrl,
  parseEnv,
} from 'src/config/env.schema';

/** A text-search configuration name as PostgreSQL spells it, optionally schema-qualified. */
const TEXT_SEARCH_CONFIG = /^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$/;

export const ragEnvShape = {
  RAG_TEXT_SEARCH_CONFIG: envString('english').transform((v, ctx) => {
    const name = v!.toLowerCase();
    if (!TEXT_SEARCH_CONFIG.test(name)) {
      ctx.addIssue({ code: 'custom', message: `expected a text search configuration name, got "${v}"` });
      return z.NEVER;
    }
    return name;
  }),
  RAG_CHUNK_TOKENS: envInt(400, { min: 8, max: 8_000 }),
  RAG_CHUNK_OVERLAP: envInt(60, { min: 0, max: 4_000 }),
  RAG_MAX_QUERY_CHARS: envInt(1_000, { min: 10, max: 100_000 }),
  RAG_MAX_UPLOAD_MB: envInt(20, { min: 1, max: 1_024 }),
  RAG_TOOL_RESULTS: envInt(5, { min: 1, max: 20 }),
  RAG_SOURCES_WIDGET: envBoolean(false),
  RAG_FULLTEXT_ROW_BUDGET: envInt(5_000, { min: 10, max: 100_000_000 }),
  RAG_FULLTEXT_SCAN_CAP: envInt(20_000, { min: 100, max: 100_000_000 }),
  RAG_VECTOR_MIN_SIMILARITY: envNumber(0, { min: -1, max: 1 }),
  RAG_EMBEDDINGS_MODEL: envString(),
  RAG_EMBEDDINGS_API_KEY: envString(),
  RAG_EMBEDDINGS_BASE_URL: envUrl(['http:', 'https:']),
  RAG_EMBEDDING_DIMENSIONS: envInt(1536, { min: 1, max: 16_000 }),
  RAG_EMBEDDINGS_SEND_DIMENSIONS: envBoolean(true),
  RAG_EMBEDDINGS_BATCH_SIZE: envInt(64, { min: 1, max: 2_048 }),
  RAG_EMBEDDINGS_MAX_RETRIES: envInt(3, { min: 0, max: 10 }),
  RAG_EMBEDDINGS_TIMEOUT_MS: envInt(30_000, { min: 1_000, max: 600_000 }),
  RAG_SEED_DOCS: envString(),
  RAG_SEED_PATH: envList(['./docs']),
  OPENAI_API_KEY: agentEnvShape.OPENAI_API_KEY,
  OPENAI_BASE_URL: agentEnvShape.OPENAI_BASE_URL,
  DATABASE_URL: envString(),
};

const seedFlag = envBoolean(false);

export const ragConfig = registerAs('rag', () => {
  const env = parseEnv(ragEnvShape);
  const problems: string[] = [];
  if (env.RAG_CHUNK_OVERLAP >= env.RAG_CHUNK_TOKENS) {
    problems.push(
      `RAG_CHUNK_OVERLAP: must be smaller than RAG_CHUNK_TOKENS (${env.RAG_CHUNK_TOKENS}), got ${env.RAG_CHUNK_OVERLAP}`,
    );
  }
  const apiKey = env.RAG_EMBEDDINGS_API_KEY ?? env.OPENAI_API_KEY;
  const baseURL = env.RAG_EMBEDDINGS_BASE_URL ?? env.OPENAI_BASE_URL;
  if (env.RAG_EMBEDDINGS_MODEL !== undefined && apiKey === undefined && baseURL === undefined) {
    problems.push(
      'RAG_EMBEDDINGS_MODEL: needs an embedding server; set OPENAI_API_KEY (api.openai.com) or RAG_EMBEDDINGS_BASE_URL / OPENAI_BASE_URL',
    );
  }
  const seed = seedFlag.safeParse(env.RAG_SEED_DOCS);
  if (!seed.success) problems.push(`RAG_SEED_DOCS: expected true or false, got "${env.RAG_SEED_DOCS}"`);
  if (problems.length) throw new ConfigValidationError(problems);

  const embedded = env.DATABASE_URL === undefined;
  return {
    textSearchConfig: env.RAG_TEXT_SEARCH_CONFIG,
    chunkTokens: env.RAG_CHUNK_TOKENS,
    chunkOverlap: env.RAG_CHUNK_OVERLAP,
    maxQueryChars: env.RAG_MAX_QUERY_CHARS,
    maxUploadBytes: env.RAG_MAX_UPLOAD_MB * 1024 * 1024,
    toolResults: env.RAG_TOOL_RESULTS,
    /** The search's sources also shown as a widget (the built-in knowledge_base_sources template). */
    sourcesWidget: env.RAG_SOURCES_WIDGET,
    /** Estimated chunks the selecting words of a full-text query may match (rarest words first). */
    fulltextRowBudget: env.RAG_FULLTEXT_ROW_BUDGET,
    /** Most chunks one full-text selection ranks, whatever the estimates said. */
    fulltextScanCap: env.RAG_FULLTEXT_SCAN_CAP,
    /** Vector hits below this cosine similarity are dropped: nearest is not always near. */
    vectorMinSimilarity: env.RAG_VECTOR_MIN_SIMILARITY,
    embeddings:
      env.RAG_EMBEDDINGS_MODEL === undefined
        ? undefined
        : {
            model: env.RAG_EMBEDDINGS_MODEL,
            // A base URL alone is a local server that takes no key; the client insists on one.
            apiKey: apiKey ?? 'unused',
            baseURL,
            sendDimensions: env.RAG_EMBEDDINGS_SEND_DIMENSIONS,
            batchSize: env.RAG_EMBEDDINGS_BATCH_SIZE,
            maxRetries: env.RAG_EMBEDDINGS_MAX_RETRIES,
            timeoutMs: env.RAG_EMBEDDINGS_TIMEOUT_MS,
          },
    /** What the migration used for `vector(<n>)`; the live column's size wins if they differ. */
    embeddingDimensions: env.RAG_EMBEDDING_DIMENSIONS,
    /** Unset: on with the embedded database (a fresh `npm start`), off with a real server. */
    seedDocs: env.RAG_SEED_DOCS === undefined ? embedded : seed.data!,
    /** Files and folders to seed from, relative to the working directory. */
    seedPaths: env.RAG_SEED_PATH,
  };
});

export type RagConfig = ReturnType<typeof ragConfig>;
