/**
 * Route decorators. Each sets what the guards enforce and what the OpenAPI document says in one
 * place, so the two cannot drift: `Authenticated()` requires a signed-in caller (even on a
 * controller marked public) and documents the security requirement and the 401; `AdminOnly()`
 * adds the admin guard and its 403; `Public()` opts a route out of the auth guard;
 * `WithoutDatabase()` lets a route answer while the database is down. `CurrentUser()` hands the
 * RequestContext to a handler.
 */
import {
  applyDecorators,
  createParamDecorator,
  ExecutionContext,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { ADMIN_ACTION, AdminGuard } from 'src/common/admin.guard';
import { ApiErrorResponses } from 'src/common/api-docs';
import { AppException, ErrorCode } from 'src/common/app.exception';
import type { AuthenticatedRequest, RequestContext } from 'src/common/request-context';

export const IS_PUBLIC = 'chatkit:isPublic';
export const WITHOUT_DATABASE = 'chatkit:withoutDatabase';
/**
 * The security requirement every authenticated route carries. The document builder
 * (src/openapi/) swaps it for the schemes the running configuration accepts: the bearer token,
 * plus the X-User-ID / X-Org-ID / X-User-Role headers in development mode.
 */
export const BEARER_SCHEME = 'bearer';

export const Public = () => SetMetadata(IS_PUBLIC, true);
export const WithoutDatabase = () => SetMetadata(WITHOUT_DATABASE, true);
export const Authenticated = () =>
  applyDecorators(
    SetMetadata(IS_PUBLIC, false),
    ApiBearerAuth(BEARER_SCHEME),
    ApiErrorResponses({
      401: 'No valid credentials (`unauthorized`, `token_missing`, `token_expired`, … `auth_not_configured`)',
    }),
  );

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
    ApiErrorResponses({ 403: 'Not an admin (`forbidden`)' }),
  );

export const CurrentUser = createParamDecorator((_data: unknown, ctx: ExecutionContext): RequestContext => {
  const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!req.context) throw new AppException(ErrorCode.Unauthorized, 'not authenticated');
  return req.context;
});
