/**
 * POST /chatkit — the single ChatKit endpoint. The body's `type` decides between a JSON answer
 * and a Server-Sent Events stream; see docs/protocol.md.
 */
import { Body, Controller, HttpCode, Inject, Post, Res, UseFilters } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ChatKitRequestDto, requestOf } from 'src/chatkit/chatkit-request.dto';
import { ChatKitService } from 'src/chatkit/chatkit.service';
import { InvalidRequestsFilter } from 'src/chatkit/invalid-requests.filter';
import { NEVER_ABORTED, sendResult, sseFor } from 'src/chatkit/chatkit.response';
import { ApiErrorResponses } from 'src/common/api-docs';
import { Authenticated, CurrentUser } from 'src/common/decorators';
import type { RequestContext } from 'src/common/request-context';
import { chatkitConfig, type ChatKitConfig } from 'src/config/chatkit.config';
import { isStreamingRequest } from 'src/protocol/chatkit.schemas';

@ApiTags('chatkit')
@Authenticated()
@Controller('chatkit')
export class ChatKitController {
  constructor(
    private readonly chatkit: ChatKitService,
    @Inject(chatkitConfig.KEY) private readonly config: ChatKitConfig,
  ) {}

  @Post()
  @HttpCode(200)
  @UseFilters(InvalidRequestsFilter)
  // The body, the 200 per request type and the examples come from src/openapi/chatkit.operation.ts.
  @ApiOperation({ summary: 'ChatKit protocol endpoint (JSON or Server-Sent Events, by request type)' })
  @ApiErrorResponses({
    400: 'The body does not match the protocol; the message names the field (`validation_failed`)',
    404: 'Thread, item or attachment not found, or not yours (`not_found`)',
    409: 'A response is already streaming on this thread (`thread_busy`)',
    429: 'Too many requests (`rate_limited`), CHATKIT_MAX_STREAMS_PER_USER streams already open (`too_many_streams`), or a token budget used up (`quota_exceeded`, with Retry-After and X-Quota-Reset)',
    501: 'input.transcribe without a configured transcription model (`not_implemented`)',
    502: 'threads.sync_custom_action answered by an action webhook that failed or answered nonsense (`action_webhook_failed`)',
    504: 'threads.sync_custom_action answered by an action webhook that did not answer in time (`action_webhook_timeout`)',
  })
  async handle(
    @CurrentUser() ctx: RequestContext,
    @Body() body: ChatKitRequestDto,
    @Res() res: Response,
  ): Promise<void> {
    const request = requestOf(body);
    if (!isStreamingRequest(request)) {
      // A JSON answer needs no SSE writer and no client watch: nothing runs on after the client.
      await sendResult(res, undefined, await this.chatkit.handle(ctx, request, NEVER_ABORTED));
      return;
    }
    // Watched before anything else happens, so a client gone during the checks is not missed.
    const sse = sseFor(res, this.config);
    await sendResult(res, sse, await this.chatkit.handle(ctx, request, sse.signal));
  }
}
