/**
 * Bodies of the REST routes that are not ChatKit protocol values, described in zod for the OpenAPI
 * document only: the services keep their TypeScript types, and the compile-time checks at the end
 * fail the build when a schema here and the type it documents stop describing the same JSON.
 * Nothing here validates input or shapes output.
 */
import { z } from 'zod';
import { ActionErrorCode } from 'src/actions/action-webhook';
import type { PurgeReport } from 'src/attachments/attachments.cleanup';
import { AttachmentErrorCode } from 'src/attachments/attachment.exception';
import { ErrorCode } from 'src/common/app.exception';
import type { ErrorBody } from 'src/common/all-exceptions.filter';
import { ERROR_RESPONSE_SCHEMA } from 'src/common/api-docs';
import type { IngestResult } from 'src/rag/rag.ingestion.service';
import type { PageOfDocuments } from 'src/rag/rag.repository';
import { RagErrorCode } from 'src/rag/rag.exception';
import type { SearchResponse } from 'src/rag/rag.search.service';
import { SEARCH_MODES } from 'src/rag/rag.search.service';

/** Every `code` an error body can carry: the generic codes and those of the feature exceptions. */
export const ERROR_CODES = [
  ...Object.values(ErrorCode),
  ...Object.values(AttachmentErrorCode),
  ...Object.values(RagErrorCode),
  ...Object.values(ActionErrorCode),
] as [string, ...string[]];

export const ErrorResponseSchema = z
  .object({
    statusCode: z.int().min(400).max(599).describe('The HTTP status, repeated'),
    code: z.enum(ERROR_CODES).describe('Stable, machine-readable; switch on this, not on the message'),
    message: z.string().describe('For people; names the offending field for validation errors'),
    requestId: z.string().describe('Also in the X-Request-ID header and in the server log'),
    details: z
      .unknown()
      .optional()
      .describe(
        'On /health/ready: which dependency failed; on `quota_exceeded`: `{budget, limit_tokens, resets_at, retry_after_s}`',
      ),
  })
  .meta({
    id: ERROR_RESPONSE_SCHEMA,
    description: 'The body of every 4xx and 5xx answer outside an open event stream.',
    examples: [
      {
        statusCode: 404,
        code: 'not_found',
        message: 'thread not found',
        requestId: '3f1c2a9e-8d7b-4f7e-9a51-1f0e2b7c9d44',
      },
    ],
  });

export const MeSchema = z
  .object({
    userId: z.string(),
    orgId: z.string().nullable(),
    isAdmin: z.boolean(),
  })
  .meta({ id: 'Me', description: 'The identity the server took from the request.' });

export const LivenessSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Liveness' });

const HealthIndicatorsSchema = z.record(z.string(), z.looseObject({ status: z.enum(['up', 'down']) }));

export const ReadinessSchema = z
  .object({
    status: z.literal('ok'),
    info: HealthIndicatorsSchema.optional(),
    error: HealthIndicatorsSchema.optional(),
    details: HealthIndicatorsSchema.optional(),
  })
  .meta({ id: 'Readiness', description: 'Terminus health check result, one entry per dependency.' });

const PurgeSectionSchema = z.object({
  count: z.int(),
  bytes: z.int(),
  sample: z.array(z.string()).describe('The first few ids or storage keys'),
});

export const PurgeReportSchema = z
  .object({
    dry_run: z.boolean(),
    org_id: z.string().nullable().describe('The org swept, or null for a sweep of everything'),
    started_at: z.string(),
    duration_ms: z.number(),
    pending_expired: PurgeSectionSchema,
    unlinked_expired: PurgeSectionSchema,
    orphaned_objects: PurgeSectionSchema,
    stale_temp_files: z.int(),
  })
  .meta({ id: 'PurgeReport' });

export const SearchResponseSchema = z
  .object({
    query: z.string(),
    mode: z.enum(SEARCH_MODES).describe('The mode that ran (hybrid falls back to fulltext)'),
    results: z.array(
      z.object({
        chunkId: z.string(),
        documentId: z.string(),
        title: z.string(),
        source: z.string(),
        headingPath: z.array(z.string()),
        text: z.string(),
        score: z.number(),
        snippet: z.string().describe('HTML-escaped, matched words in <mark> tags'),
      }),
    ),
  })
  .meta({ id: 'SearchResponse' });

const KnowledgeDocumentSchema = z
  .object({
    id: z.string(),
    orgId: z.string().describe('Empty for global documents'),
    title: z.string(),
    source: z.string(),
    mimeType: z.string(),
    contentHash: z.string(),
    byteSize: z.int(),
    chunkCount: z.int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'KnowledgeDocument' });

export const IngestResultSchema = z
  .object({
    status: z.enum(['created', 'updated', 'unchanged']),
    document: KnowledgeDocumentSchema,
    embedded: z.int().optional().describe('Chunks stored with a vector; absent when nothing was written'),
    embeddingError: z.string().optional().describe('Why the chunks were stored without vectors'),
  })
  .meta({ id: 'IngestResult' });

export const KnowledgeDocumentPageSchema = z
  .object({
    data: z.array(KnowledgeDocumentSchema),
    hasMore: z.boolean(),
    after: z.string().nullable(),
  })
  .meta({ id: 'KnowledgeDocumentPage' });

// Compile-time checks: each documented body and the type the route returns describe the same JSON.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;
export type RestSchemasMatchTheirTypes = [
  Holds<Same<z.output<typeof PurgeReportSchema>, PurgeReport>>,
  Holds<Same<z.output<typeof SearchResponseSchema>, SearchResponse>>,
  Holds<Same<z.output<typeof IngestResultSchema>, IngestResult>>,
  Holds<Same<z.output<typeof KnowledgeDocumentPageSchema>, PageOfDocuments>>,
  Holds<Same<Omit<z.output<typeof ErrorResponseSchema>, 'code'>, Omit<ErrorBody, 'code'>>>,
];
