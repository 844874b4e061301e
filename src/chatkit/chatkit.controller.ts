/**
 * POST /chatkit — the single ChatKit endpoint. The body's `type` decides between a JSON answer
 * and a Server-Sent Events stream; see docs/protocol.md.
 */
import { Body, Controller, HttpCode, Inject, Post, Res, UseFilters } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ChatKitRequestDto, requestOf } from 'src/chatkit/chatkit-request.dto';
import { ChatKitService } from 'src/chatkit/chatkit.service';
import { InvalidRequestsFilter } from 'src/chatkit/invalid-requests.filter';
import { sendResult, sseFor } from 'src/chatkit/chatkit.response';
import { Authenticated, CurrentUser } from 'src/common/decorators';
import type { RequestContext } from 'src/common/request-context';
import { chatkitConfig, type ChatKitConfig } from 'src/config/chatkit.config';

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
  @ApiOperation({
    summary: 'ChatKit protocol endpoint',
    description:
      'One JSON body `{type, params, metadata?}`. threads.create, threads.add_user_message, threads.add_client_tool_output, threads.add_structured_input, threads.retry_after_item and threads.custom_action answer with text/event-stream (one `data: <json>` frame per event); every other type answers with one JSON document.',
  })
  @ApiBody({ type: ChatKitRequestDto })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiResponse({ status: 200, description: 'A JSON result, or an SSE stream of thread events' })
  @ApiResponse({
    status: 400,
    description: 'The body does not match the protocol (the message names the field)',
  })
  @ApiResponse({ status: 404, description: 'Thread or item not found (or not yours)' })
  @ApiResponse({ status: 409, description: 'A response is already streaming on this thread (thread_busy)' })
  @ApiResponse({
    status: 429,
    description: 'The user already has CHATKIT_MAX_STREAMS_PER_USER streams open (too_many_streams)',
  })
  async handle(
    @CurrentUser() ctx: RequestContext,
    @Body() body: ChatKitRequestDto,
    @Res() res: Response,
  ): Promise<void> {
    // Watched before anything else happens, so a client gone during the checks is not missed.
    const sse = sseFor(res, this.config);
    await sendResult(res, sse, await this.chatkit.handle(ctx, requestOf(body), sse.signal));
  }
}
