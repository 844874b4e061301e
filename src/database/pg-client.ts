/**
 * The pg client the pool builds: pg's own, except that a query which outlived the client-side
 * query timeout closes its connection. pg only rejects the query's promise; the connection goes
 * back to the pool still waiting for an answer that a silently dropped network will never
 * deliver, and every later query queued on it would time out in turn. Closing it lets the pool
 * open a fresh connection, so the app recovers by itself once the network does.
 */
import { Client, type ClientConfig } from 'pg';

type AnyQuery = (...args: unknown[]) => unknown;

export class DiscardOnTimeoutClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    const query = (this.query as AnyQuery).bind(this);
    const discardOnTimeout = (err: unknown) => {
      if (isQueryReadTimeout(err)) {
        // end() destroys the socket outright while a query is active, and marks the client as
        // ending first, so the pool drops it instead of lending it again.
        this.end().catch(() => undefined);
      }
    };
    (this as unknown as { query: AnyQuery }).query = (...args: unknown[]) => {
      const callback = args.at(-1);
      if (typeof callback === 'function') {
        args[args.length - 1] = (err: unknown, ...rest: unknown[]) => {
          discardOnTimeout(err);
          return (callback as AnyQuery)(err, ...rest);
        };
        return query(...args);
      }
      const result = query(...args);
      if (result instanceof Promise) result.catch(discardOnTimeout);
      return result;
    };
  }
}

function isQueryReadTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Query read timeout';
}
