/** GET /api/me: who the server thinks you are — lets front-end teams check their token setup. */
import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiJsonResponse } from 'src/common/api-docs';
import { Authenticated, CurrentUser, WithoutDatabase } from 'src/common/decorators';
import type { RequestContext } from 'src/common/request-context';

@ApiTags('auth')
@Authenticated()
@Controller('api/me')
export class AuthController {
  @Get()
  @WithoutDatabase()
  @ApiOperation({ summary: 'The identity taken from the bearer token (user, org, admin flag)' })
  @ApiJsonResponse(200, 'Me', 'Who the server thinks you are')
  me(@CurrentUser() ctx: RequestContext) {
    return { userId: ctx.userId, orgId: ctx.orgId ?? null, isAdmin: ctx.isAdmin };
  }
}
