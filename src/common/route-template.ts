/**
 * The route a request matched, as its template (`/api/threads/:id`), for log lines and metric
 * labels: never the concrete path, which carries ids (and would give every thread its own series).
 */
import type { Request } from 'express';

/** The catch-all that app-wide middleware is mounted on; seeing it as the route means no handler matched. */
export const ALL_ROUTES = '{*path}';

export function routeTemplate(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  if (!route || typeof route.path !== 'string' || route.path.includes(ALL_ROUTES)) return 'unmatched';
  return `${req.baseUrl ?? ''}${route.path}`;
}
