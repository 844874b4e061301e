/**
 * Lets a route through only for an admin (the admin claim of the token, see AUTH_ADMIN_CLAIM);
 * everyone else gets `403 forbidden` before the handler, its pipes or an upload interceptor run.
 * Applied with `@AdminOnly()` from decorators.ts, never on its own, so the route's Swagger entry
 * and its enforcement cannot drift. It must never look at anything but the RequestContext.
 */
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppException, ErrorCode } from 'src/common/app.exception';
import type { AuthenticatedRequest } from 'src/common/request-context';

/** Metadata key: what the route does, named in the 403 message ("… requires the admin role"). */
export const ADMIN_ACTION = 'chatkit:adminAction';

@Injectable()
export class AdminGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (req.context?.isAdmin) return true;
    const action = this.reflector.getAllAndOverride<string | undefined>(ADMIN_ACTION, [
      context.getHandler(),
      context.getClass(),
    ]);
    throw new AppException(ErrorCode.Forbidden, `${action ?? 'this route'} requires the admin role`);
  }
}
