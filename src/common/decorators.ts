/**
 * Route decorators. `Authenticated()` sets the Swagger bearer entry; `Public()` opts a route out
 * of the JWT guard; `WithoutDatabase()` lets a route answer while the database is down.
 * `CurrentUser()` hands the RequestContext to a handler.
 */
import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { AppException, ErrorCode } from 'src/common/app.exception';
import type { AuthenticatedRequest, RequestContext } from 'src/common/request-context';

export const IS_PUBLIC = 'chatkit:isPublic';
export const WITHOUT_DATABASE = 'chatkit:withoutDatabase';
export const BEARER_SCHEME = 'bearer';

export const Public = () => SetMetadata(IS_PUBLIC, true);
export const WithoutDatabase = () => SetMetadata(WITHOUT_DATABASE, true);
export const Authenticated = () => applyDecorators(ApiBearerAuth(BEARER_SCHEME));

export const CurrentUser = createParamDecorator((_data: unknown, ctx: ExecutionContext): RequestContext => {
  const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!req.context) throw new AppException(ErrorCode.Unauthorized, 'not authenticated');
  return req.context;
});
