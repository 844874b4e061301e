/**
 * Who is asking, attached to the request by the auth guard and passed explicitly to every service
 * that touches user data. Every query on user data is scoped by userId (and orgId when present).
 */
import type { Request } from 'express';

export interface RequestContext {
  userId: string;
  orgId?: string;
  isAdmin: boolean;
  requestId: string;
  /** Free-form request metadata from the client (ChatKit's `metadata`), filled in by the protocol layer. */
  metadata: Record<string, unknown>;
}

export interface AuthenticatedRequest extends Request {
  context?: RequestContext;
  /** Route template, recorded for logs and metrics once routing picked a handler. */
  routeTemplate?: string;
}

export function requestIdOf(req: AuthenticatedRequest): string {
  return typeof req.id === 'string' ? req.id : String(req.id ?? '');
}
