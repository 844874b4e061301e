/**
 * Route decorators. `Authenticated()` sets the Swagger bearer entry; `AdminOnly()` adds the admin
 * guard and its 403 to it; `Public()` opts a route out of the JWT guard; `WithoutDatabase()` lets
 * a route answer while the database is down. `CurrentUser()` hands the RequestContext to a
 * handler.
 */
import {
  applyDecorators,
  createParamDecorator,
  ExecutionContext,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse } from '@nestjs/swagger';
import { ADMIN_ACTION, AdminGuard } from 'src/common/admin.guard';
import { AppException, ErrorCode } from 'src/common/app.exception';
import type { AuthenticatedRequest, RequestContext } from 'src/common/request-context';

export const IS_PUBLIC = 'chatkit:isPublic';
export const WITHOUT_DATABASE = 'chatkit:withoutDatabase';
export const BEARER_SCHEME = 'bearer';

export const Public = () => SetMetadata(IS_PUBLIC, true);
export const WithoutDatabase = () => SetMetadata(WITHOUT_DATABASE, true);
export const Authenticated = () => applyDecorators(ApiBearerAuth(BEARER_SCHEME));

/**
 * Admins only, on a controller or a handler. `action` names what the route does for the 403
 * message, e.g. `AdminOnly('managing the knowledge base')` → "managing the knowledge base
 * requires the admin role".
 */
export const AdminOnly = (action?: string) =>
  applyDecorators(
    Authenticated(),
    ...(action ? [SetMetadata(ADMIN_ACTION, action)] : []),
    UseGuards(AdminGuard),
    ApiForbiddenResponse({ description: 'Not an admin (`forbidden`)' }),
  );

export const CurrentUser = createParamDecorator((_data: unknown, ctx: ExecutionContext): RequestContext => {
  const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!req.context) throw new AppException(ErrorCode.Unauthorized, 'not authenticated');
  return req.context;
});
