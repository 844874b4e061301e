/**
 * Rate limiting keyed on who is asking: the authenticated user (and org) when the auth guard ran,
 * else the client address (see clientAddress). Runs after the auth guard.
 *
 * One budget per caller across every route (per named throttler): the library's default key
 * includes the controller and handler, which would give each caller a fresh budget on every route.
 */
import { Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { AuthenticatedRequest } from 'src/common/request-context';
import { clientAddress } from 'src/rate-limit/client-address';

@Injectable()
export class UserThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, any>): Promise<string> {
    const request = req as AuthenticatedRequest;
    if (request.context) return `user:${request.context.orgId ?? ''}:${request.context.userId}`;
    return `ip:${clientAddress(request)}`;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, throttler: string): string {
    return `ratelimit:${throttler}:${tracker}`;
  }
}
