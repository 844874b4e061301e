/**
 * Operator routes for attachments: run the cleanup sweep now, or see what it would remove. Admins
 * only (the admin claim of the token); everyone else gets a 403 before anything is read. An admin
 * whose token names an org sweeps, and sees the ids of, that org's attachments only; an admin
 * without an org (a deployment without orgs) sweeps everything.
 */
import { Controller, HttpCode, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AttachmentsCleanup, type PurgeReport } from 'src/attachments/attachments.cleanup';
import { ApiJsonResponse } from 'src/common/api-docs';
import { AdminOnly, CurrentUser } from 'src/common/decorators';
import type { RequestContext } from 'src/common/request-context';

@ApiTags('admin')
@AdminOnly('purging attachments')
@Controller('api/admin/attachments')
export class AttachmentsAdminController {
  constructor(private readonly cleanup: AttachmentsCleanup) {}

  @Post('purge')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Remove expired pending uploads, unlinked attachments and orphaned stored objects now',
    description:
      "The same sweep the cleanup timer runs. With dry_run=true nothing is deleted; the report says what would be. An admin of an org sweeps that org's attachments only (not stored objects without a record).",
  })
  @ApiQuery({ name: 'dry_run', required: false, enum: ['true', 'false'] })
  @ApiJsonResponse(200, 'PurgeReport', 'What was removed (or, with dry_run, would be)')
  async purge(@CurrentUser() ctx: RequestContext, @Query('dry_run') dryRun?: string): Promise<PurgeReport> {
    return this.cleanup.run({ dryRun: dryRun === 'true' || dryRun === '1', orgId: ctx.orgId || undefined });
  }
}
