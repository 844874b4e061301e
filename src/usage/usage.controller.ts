/** GET /api/usage: token usage and what is left of the budgets, for the caller or their org. */
import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { ApiErrorResponses, ApiJsonResponse } from 'src/common/api-docs';
import { Authenticated, CurrentUser } from 'src/common/decorators';
import type { RequestContext } from 'src/common/request-context';
import { UsageQuerySchema, UsageReportSchema, type UsageReport } from 'src/usage/usage.schemas';
import { UsageService } from 'src/usage/usage.service';

class UsageQueryDto extends createZodDto(UsageQuerySchema) {}

@ApiTags('usage')
@Authenticated()
@Controller('api/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @ApiOperation({
    summary: 'Your token usage by day and model, with cost estimates and your remaining budgets',
    description:
      'Every model call of your turns (answers, tool rounds, thread titles), summed per UTC day and model. `scope=org` gives an org admin the whole organization, by user. The period defaults to the current month and may cover at most 366 days.',
  })
  @ApiJsonResponse(200, UsageReportSchema, 'The usage of the period')
  @ApiErrorResponses({
    400: 'A bad `from`, `to` or `scope`; the message names it (`validation_failed`)',
    403: '`scope=org` without the admin role in an organization (`forbidden`)',
  })
  async get(@CurrentUser() ctx: RequestContext, @Query() query: UsageQueryDto): Promise<UsageReport> {
    return this.usage.report(ctx, query);
  }
}
