/**
 * Rate limiting keyed on who is asking: the authenticated user (and org) when the auth guard ran,
 * else the client IP as Express resolves it under `trust proxy`. Runs after the auth guard.
 */
import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { AuthenticatedRequest } from 'src/common/request-context';

@Injectable()
export class UserThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, any>): Promise<string> {
    const request = req as AuthenticatedRequest;
    if (request.context) return `user:${request.context.orgId ?? ''}:${request.context.userId}`;
    return `ip:${request.ip ?? request.socket?.remoteAddress ?? 'unknown'}`;
  }
}
