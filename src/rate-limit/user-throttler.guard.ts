/**
 * Rate limiting keyed on who is asking: the authenticated user (and org) when the auth guard ran,
 * else the client address (see clientAddress). Runs after the auth guard.
 *
 * One budget per caller across every route (per named throttler): the library's default key
 * includes the controller and handler, which would give each caller a fresh budget on every route.
 */
import { Injectable, type ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { AuthenticatedRequest } from 'src/common/request-context';
import { clientAddress } from 'src/rate-limit/client-address';

@Injectable()
export class UserThrottlerGuard extends ThrottlerGuard {
  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    // The library's guard reads six route settings per named throttler on every request, each a
    // walk of the handler's and the class's metadata. Route metadata is fixed once the app is
    // built, so each answer is kept per handler.
    Object.defineProperty(this, 'reflector', { value: cachedRouteMetadata(this.reflector) });
  }

  protected override async getTracker(req: Record<string, any>): Promise<string> {
    const request = req as AuthenticatedRequest;
    if (request.context) return `user:${request.context.orgId ?? ''}:${request.context.userId}`;
    return `ip:${clientAddress(request)}`;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, throttler: string): string {
    return `ratelimit:${throttler}:${tracker}`;
  }
}

/**
 * `reflector` with getAllAndOverride answered from a cache per (handler, class, key): what the
 * throttler guard asks is decorator metadata, set before the first request and never changed.
 */
export function cachedRouteMetadata(reflector: Reflector): Reflector {
  const byHandler = new Map<unknown, { classRef: unknown; values: Map<unknown, unknown> }>();
  const cached = Object.create(reflector) as Reflector;
  const lookUp = (key: unknown, targets: unknown[]): unknown => {
    if (targets.length !== 2) return reflector.getAllAndOverride(key, targets as never);
    const [handler, classRef] = targets;
    let entry = byHandler.get(handler);
    if (!entry) byHandler.set(handler, (entry = { classRef, values: new Map() }));
    // One handler function under another class (inherited routes): not cached.
    if (entry.classRef !== classRef) return reflector.getAllAndOverride(key, targets as never);
    if (entry.values.has(key)) return entry.values.get(key);
    const value: unknown = reflector.getAllAndOverride(key, targets as never);
    entry.values.set(key, value);
    return value;
  };
  cached.getAllAndOverride = lookUp as Reflector['getAllAndOverride'];
  return cached;
}
