/**
 * REST routes of the knowledge base. `GET /api/search` is for every signed-in user and searches
 * their org's documents plus the global ones. `/api/documents` manages the documents of the
 * caller's org (global ones for an admin without an org) and needs the admin role: the guard runs
 * before the upload is read, so a non-admin's file is never parsed.
 *
 * Handlers only translate HTTP to service calls; they never touch SQL or decide scoping.
 */
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Res,
  UploadedFile,
  UseInterceptors,
} from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import { ApiBody, ApiConsumes, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { AppException, ErrorCode } from 'src/common/app.exception';
import { INPUT_LIMITS } from 'src/common/input-limits';
import { ApiErrorResponses, ApiJsonResponse } from 'src/common/api-docs';
import { AdminOnly, Authenticated, CurrentUser } from 'src/common/decorators';
import type { RequestContext } from 'src/common/request-context';
import { IngestionService, type IngestResult } from 'src/rag/rag.ingestion.service';
import { KnowledgeRepository, type PageOfDocuments } from 'src/rag/rag.repository';
import {
  MAX_SEARCH_LIMIT,
  SEARCH_MODES,
  SearchService,
  type SearchResponse,
} from 'src/rag/rag.search.service';

const SearchQuerySchema = z.object({
  q: z.string().optional().describe('The question or keywords; quotes, OR and -word work as on the web'),
  limit: z.coerce.number().int().min(1).max(MAX_SEARCH_LIMIT).optional(),
  mode: z.enum(SEARCH_MODES).default('hybrid'),
});
class SearchQueryDto extends createZodDto(SearchQuerySchema) {}

const DocumentBodySchema = z.object({
  title: z.string().max(INPUT_LIMITS.titleChars).optional(),
  source: z.string().max(INPUT_LIMITS.sourceChars).optional(),
  content: z.string().optional(),
  mime_type: z.string().max(INPUT_LIMITS.nameChars).optional(),
  force: z.union([z.boolean(), z.enum(['true', 'false'])]).optional(),
});
class DocumentBodyDto extends createZodDto(DocumentBodySchema) {}

const ListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  after: z.string().max(INPUT_LIMITS.idChars).optional(),
});
class ListQueryDto extends createZodDto(ListQuerySchema) {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The org whose documents an admin manages: their own, or the global set ('') without one. */
function managedOrg(ctx: RequestContext): string {
  return ctx.orgId ?? '';
}

@ApiTags('knowledge base')
@Authenticated()
@Controller('api/search')
export class SearchController {
  constructor(private readonly search: SearchService) {}

  @Get()
  @ApiOperation({
    summary: 'Search the knowledge base (your org and global documents)',
    description:
      'Hybrid by default: full-text rank and vector similarity fused by reciprocal rank. `mode` in the ' +
      'response is the mode that ran (hybrid falls back to fulltext without pgvector or embeddings). ' +
      '`snippet` is HTML-escaped text with the matched words in <mark> tags.',
  })
  @ApiJsonResponse(200, 'SearchResponse', 'The best passages, best first')
  run(@CurrentUser() ctx: RequestContext, @Query() query: SearchQueryDto): Promise<SearchResponse> {
    return this.search.query(ctx, { q: query.q ?? '', limit: query.limit, mode: query.mode });
  }
}

@ApiTags('knowledge base')
@AdminOnly('managing the knowledge base')
@Controller('api/documents')
export class DocumentsController {
  constructor(
    private readonly ingestion: IngestionService,
    private readonly repository: KnowledgeRepository,
  ) {}

  @Post()
  @UseInterceptors(FileInterceptor('file'))
  @ApiConsumes('multipart/form-data', 'application/json')
  @ApiBody({
    description:
      'multipart/form-data with a `file` (Markdown, text, HTML or PDF) and optional `source`, `title`, ' +
      '`force`; or JSON `{source, content, title?, mime_type?, force?}`. Re-sending unchanged content ' +
      'under the same source does nothing (`status: "unchanged"`).',
    schema: {
      type: 'object',
      properties: {
        file: { type: 'string', format: 'binary' },
        source: { type: 'string' },
        title: { type: 'string' },
        content: { type: 'string' },
        mime_type: { type: 'string' },
        force: { type: 'boolean' },
      },
    },
  })
  @ApiOperation({ summary: 'Add or replace a document (admin)' })
  @ApiJsonResponse(201, 'IngestResult', 'A new document')
  @ApiJsonResponse(200, 'IngestResult', 'An existing document, replaced or unchanged')
  @ApiErrorResponses({
    415: 'Not Markdown, text, HTML or PDF (`unsupported_format`)',
    422: 'The file cannot be read, or has no text (`corrupt_file`, `empty_document`)',
  })
  async upload(
    @CurrentUser() ctx: RequestContext,
    @Body() body: DocumentBodyDto,
    @UploadedFile() file: Express.Multer.File | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<IngestResult> {
    const common = {
      orgId: managedOrg(ctx),
      title: body.title,
      force: body.force === true || body.force === 'true',
    };
    let result: IngestResult;
    if (file) {
      result = await this.ingestion.ingest({
        ...common,
        buffer: file.buffer,
        filename: file.originalname,
        mimeType: file.mimetype,
        source: body.source ?? file.originalname,
      });
    } else if (body.content !== undefined) {
      if (!body.source?.trim()) {
        throw new AppException(
          ErrorCode.ValidationFailed,
          'source: required when the document is sent as JSON',
        );
      }
      result = await this.ingestion.ingest({
        ...common,
        buffer: Buffer.from(body.content, 'utf8'),
        filename: body.source,
        mimeType: body.mime_type,
        source: body.source,
      });
    } else {
      throw new AppException(
        ErrorCode.ValidationFailed,
        'send multipart/form-data with a "file" field, or JSON with "source" and "content"',
      );
    }
    res.status(result.status === 'created' ? 201 : 200);
    return result;
  }

  @Get()
  @ApiOperation({ summary: 'Documents of your org (admin), newest first' })
  @ApiJsonResponse(200, 'KnowledgeDocumentPage', 'A page of documents; `after` is the next cursor')
  async list(@CurrentUser() ctx: RequestContext, @Query() query: ListQueryDto): Promise<PageOfDocuments> {
    const org = managedOrg(ctx);
    if (
      query.after !== undefined &&
      !(UUID.test(query.after) && (await this.repository.documentExists(org, query.after)))
    ) {
      throw new AppException(ErrorCode.BadRequest, 'after: unknown cursor');
    }
    return this.repository.listDocuments(org, query.limit, query.after);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a document and its chunks (admin)' })
  @ApiResponse({ status: 204, description: 'Deleted' })
  @ApiErrorResponses({ 404: 'No such document in your org (`not_found`)' })
  async remove(@CurrentUser() ctx: RequestContext, @Param('id') id: string): Promise<void> {
    if (!UUID.test(id) || !(await this.repository.deleteDocument(managedOrg(ctx), id))) {
      throw AppException.notFound('document');
    }
  }
}
