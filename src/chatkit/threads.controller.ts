/**
 * REST routes for front ends that do not use ChatKit.js: the same threads, items and streams as
 * POST /chatkit, through the same service, so both views of the data always agree.
 *
 * They live under /chatkit/threads, next to the protocol endpoint. /api/threads is the earlier
 * home of the same routes, kept for one release as a deprecated alias: both controllers are made
 * by one factory, so the alias can never drift from the real routes, and only the alias is
 * marked deprecated in the OpenAPI document and answers with Deprecation and Link headers.
 */
import {
  Body,
  CallHandler,
  Controller,
  Delete,
  ExecutionContext,
  Get,
  HttpCode,
  Inject,
  Injectable,
  NestInterceptor,
  Param,
  Patch,
  Post,
  Query,
  Res,
  UseInterceptors,
} from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { Observable } from 'rxjs';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import {
  CursorSchema,
  IdSchema,
  PageOrderSchema,
  RequestMetadataSchema,
  ThreadItemPageSchema,
  ThreadPageSchema,
  ThreadSchema,
  ThreadStreamEventSchema,
  ThreadTitleSchema,
  UserMessageInputSchema,
  type ThreadsAddUserMessageRequest,
  type ThreadsCreateRequest,
} from 'src/protocol/chatkit.schemas';
import { ChatKitService } from 'src/chatkit/chatkit.service';
import { sendJson, sendResult, sseFor } from 'src/chatkit/chatkit.response';
import { ApiErrorResponses, ApiEventStreamResponse, ApiJsonResponse } from 'src/common/api-docs';
import { Authenticated, CurrentUser } from 'src/common/decorators';
import type { RequestContext } from 'src/common/request-context';
import { chatkitConfig, type ChatKitConfig } from 'src/config/chatkit.config';

const PageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  after: CursorSchema.min(1).optional(),
  order: PageOrderSchema.default('desc'),
});
class PageQueryDto extends createZodDto(PageQuerySchema) {}

const MessageBodySchema = z.object({
  input: UserMessageInputSchema,
  metadata: RequestMetadataSchema.optional(),
});
class MessageBodyDto extends createZodDto(MessageBodySchema) {}

/** The thread id in the path where it goes on to the protocol service as `thread_id`. */
const ThreadPathSchema = z.object({ id: IdSchema });
class ThreadPathDto extends createZodDto(ThreadPathSchema) {}

const UpdateThreadSchema = z.object({ title: ThreadTitleSchema });
class UpdateThreadDto extends createZodDto(UpdateThreadSchema) {}

const NOT_FOUND = { 404: 'No such thread, or not yours (`not_found`)' };
const STREAM_ERRORS = {
  404: 'The thread or an attachment is not found, or not yours (`not_found`)',
  409: 'A response is already streaming on this thread (`thread_busy`)',
  429: 'Too many requests (`rate_limited`), too many streams open (`too_many_streams`), or a token budget used up (`quota_exceeded`)',
};
const StopResultSchema = z
  .object({
    stopped: z.boolean().describe('Whether an answer was running on the thread (and is now stopped)'),
  })
  .meta({ id: 'StopResult' });

export const THREADS_ROUTE = 'chatkit/threads';
export const DEPRECATED_THREADS_ROUTE = 'api/threads';
/** When the alias was deprecated, as RFC 9745 spells it in the Deprecation header (2026-12-05). */
const DEPRECATED_SINCE = '@1796428800';

/**
 * The thread routes, declared once. `deprecated` marks every operation of the alias in the
 * OpenAPI document; the two classes below give the routes their paths.
 */
function threadRoutes(deprecated: boolean) {
  class ThreadRoutes {
    constructor(
      private readonly chatkit: ChatKitService,
      @Inject(chatkitConfig.KEY) private readonly config: ChatKitConfig,
    ) {}

    @Get()
    @ApiOperation({ summary: 'Your threads, newest first by default (cursor pages)', deprecated })
    @ApiJsonResponse(200, ThreadPageSchema, 'A page of your threads; `after` is the next cursor')
    async list(@CurrentUser() ctx: RequestContext, @Query() query: PageQueryDto, @Res() res: Response) {
      sendJson(res, await this.chatkit.listThreads(ctx, query));
    }

    @Post()
    @HttpCode(200)
    @ApiOperation({
      summary: 'Start a thread with a first message; streams the same events as threads.create',
      deprecated,
    })
    @ApiEventStreamResponse(ThreadStreamEventSchema, 'The events of the new thread, one `data:` frame each')
    @ApiErrorResponses(STREAM_ERRORS)
    async create(@CurrentUser() ctx: RequestContext, @Body() body: MessageBodyDto, @Res() res: Response) {
      const sse = sseFor(res, this.config);
      // The body was validated by the pipe against the same schemas the ChatKit request uses.
      const request: ThreadsCreateRequest = {
        type: 'threads.create',
        params: { input: body.input },
        metadata: body.metadata ?? {},
      };
      await sendResult(res, sse, await this.chatkit.handle(ctx, request, sse.signal));
    }

    @Get(':id')
    @ApiOperation({ summary: 'A thread with its first page of items (oldest first)', deprecated })
    @ApiJsonResponse(200, ThreadSchema, 'The thread')
    @ApiErrorResponses(NOT_FOUND)
    async get(@CurrentUser() ctx: RequestContext, @Param('id') id: string, @Res() res: Response) {
      sendJson(res, await this.chatkit.getThread(ctx, id));
    }

    @Patch(':id')
    @ApiOperation({ summary: 'Rename a thread', deprecated })
    @ApiJsonResponse(200, ThreadSchema, 'The renamed thread')
    @ApiErrorResponses(NOT_FOUND)
    async update(
      @CurrentUser() ctx: RequestContext,
      @Param('id') id: string,
      @Body() body: UpdateThreadDto,
      @Res() res: Response,
    ) {
      sendJson(res, await this.chatkit.renameThread(ctx, id, body.title));
    }

    @Delete(':id')
    @HttpCode(204)
    @ApiOperation({ summary: 'Delete a thread with its items, feedback and attachments', deprecated })
    @ApiResponse({ status: 204, description: 'Deleted' })
    @ApiErrorResponses(NOT_FOUND)
    async remove(@CurrentUser() ctx: RequestContext, @Param('id') id: string): Promise<void> {
      await this.chatkit.deleteThread(ctx, id);
    }

    @Post(':id/stop')
    @HttpCode(200)
    @ApiOperation({
      summary: 'Stop the answer running on the thread, on whichever replica streams it',
      description:
        'The answer ends as if its client had pressed stop: the partial answer is stored with the cancellation marker and its stream ends. `stopped` says whether an answer was running.',
      deprecated,
    })
    @ApiJsonResponse(200, StopResultSchema, 'Whether an answer was running')
    @ApiErrorResponses(NOT_FOUND)
    async stop(@CurrentUser() ctx: RequestContext, @Param() path: ThreadPathDto, @Res() res: Response) {
      sendJson(res, await this.chatkit.stopThread(ctx, path.id));
    }

    @Get(':id/items')
    @ApiOperation({ summary: 'A page of the thread items (hidden items never appear)', deprecated })
    @ApiJsonResponse(200, ThreadItemPageSchema, 'A page of items; `after` is the next cursor')
    @ApiErrorResponses(NOT_FOUND)
    async items(
      @CurrentUser() ctx: RequestContext,
      @Param('id') id: string,
      @Query() query: PageQueryDto,
      @Res() res: Response,
    ) {
      sendJson(res, await this.chatkit.listItems(ctx, id, query));
    }

    @Post(':id/messages')
    @HttpCode(200)
    @ApiOperation({
      summary: 'Add a message; streams the same events as threads.add_user_message',
      deprecated,
    })
    @ApiEventStreamResponse(ThreadStreamEventSchema, 'The events of the answer, one `data:` frame each')
    @ApiErrorResponses(STREAM_ERRORS)
    async addMessage(
      @CurrentUser() ctx: RequestContext,
      @Param() path: ThreadPathDto,
      @Body() body: MessageBodyDto,
      @Res() res: Response,
    ) {
      const sse = sseFor(res, this.config);
      const request: ThreadsAddUserMessageRequest = {
        type: 'threads.add_user_message',
        params: { thread_id: path.id, input: body.input },
        metadata: body.metadata ?? {},
      };
      await sendResult(res, sse, await this.chatkit.handle(ctx, request, sse.signal));
    }
  }
  return ThreadRoutes;
}

@ApiTags('threads')
@Authenticated()
@Controller(THREADS_ROUTE)
export class ThreadsController extends threadRoutes(false) {}

/** Tells a client on the old path that it is deprecated, and where the same resource now lives. */
@Injectable()
export class DeprecatedPathInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<Request>();
    const res = context.switchToHttp().getResponse<Response>();
    const successor = req.originalUrl
      .split('?')[0]
      .replace(`/${DEPRECATED_THREADS_ROUTE}`, `/${THREADS_ROUTE}`);
    res.setHeader('Deprecation', DEPRECATED_SINCE);
    // The path is the client's; anything that could end the URI reference (">", ",", quotes)
    // falls back to the collection rather than shaping the header.
    const target = /^[\w\-./~%]+$/.test(successor) ? successor : `/${THREADS_ROUTE}`;
    res.setHeader('Link', `<${target}>; rel="successor-version"`);
    return next.handle();
  }
}

@ApiTags('threads')
@Authenticated()
@Controller(DEPRECATED_THREADS_ROUTE)
@UseInterceptors(DeprecatedPathInterceptor)
export class DeprecatedThreadsController extends threadRoutes(true) {}
