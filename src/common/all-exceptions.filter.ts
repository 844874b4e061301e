/**
 * The one exception filter. Every error leaves as `{statusCode, code, message, requestId}`.
 * Unknown errors become a 500 whose message says nothing about internals (the details go to
 * the log with the request id); database connection failures become a 503 with
 * `database_unavailable` so clients and load balancers can tell an outage from a bug.
 */
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ZodError } from 'zod';
import { AppException, ErrorCode, codeForStatus } from 'src/common/app.exception';
import { requestIdOf, type AuthenticatedRequest } from 'src/common/request-context';
import { formatZodError } from 'src/common/zod-errors';
import { classifyDatabaseError, type DatabaseFailure } from 'src/database/database.errors';

/** Seconds a client should wait before retrying while the database is away. */
export const DATABASE_RETRY_AFTER_S = 5;

/** An outage fails every request: one log line per kind and interval is enough to see it. */
const OUTAGE_LOG_INTERVAL_MS = 10_000;

export interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  requestId: string;
  /** Health checks: which dependency failed; `quota_exceeded`: the budget and when it resets. */
  details?: unknown;
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');
  private readonly outageLoggedAt = new Map<DatabaseFailure, number>();

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<AuthenticatedRequest>();
    const res = http.getResponse<Response>();
    const requestId = requestIdOf(req);
    const { body, headers } = toErrorBody(exception, requestId);

    const failure =
      body.code === ErrorCode.DatabaseUnavailable ? classifyDatabaseError(exception) : undefined;
    if (failure) this.logOutage(failure, exception, requestId);
    if (
      body.statusCode >= 500 &&
      body.code !== ErrorCode.DatabaseUnavailable &&
      body.code !== ErrorCode.RateLimitUnavailable &&
      body.code !== ErrorCode.NotImplemented
    ) {
      this.logger.error({ err: loggable(exception), requestId }, 'unhandled error');
    }
    if (res.headersSent) {
      // A stream already started; the protocol layer reports errors in-band. Just close it.
      res.end();
      return;
    }
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.status(body.statusCode).json(body);
  }

  private logOutage(failure: DatabaseFailure, exception: unknown, requestId: string): void {
    const now = Date.now();
    if (now - (this.outageLoggedAt.get(failure) ?? -Infinity) < OUTAGE_LOG_INTERVAL_MS) return;
    this.outageLoggedAt.set(failure, now);
    const err = loggable(exception);
    if (failure === 'misconfigured') {
      // Not going to pass by itself: the credentials or the database name must be fixed.
      this.logger.error(
        { err, requestId },
        'the database rejects the configured credentials or database name',
      );
    } else {
      this.logger.warn({ err, requestId, failure }, 'database unavailable: answering 503');
    }
  }
}

/**
 * What of an error may be logged: failed queries carry their parameters (message text,
 * documents, vectors), which must never reach the log.
 */
function loggable(exception: unknown): unknown {
  if (exception instanceof Error && 'parameters' in exception) {
    const e = exception as Error & { query?: string; code?: string };
    return { type: e.name, message: e.message, code: e.code, query: e.query, stack: e.stack };
  }
  return exception;
}

export function toErrorBody(
  exception: unknown,
  requestId: string,
): { body: ErrorBody; headers: Record<string, string> } {
  const make = (statusCode: number, code: string, message: string, headers: Record<string, string> = {}) => ({
    body: { statusCode, code, message, requestId },
    headers,
  });

  if (exception instanceof AppException) {
    const made = make(exception.status, exception.code, exception.message, exception.headers);
    if (exception.details !== undefined) (made.body as ErrorBody).details = exception.details;
    return made;
  }
  if (exception instanceof ZodError) {
    return make(400, ErrorCode.ValidationFailed, formatZodError(exception));
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    const message =
      typeof response === 'string'
        ? response
        : Array.isArray((response as { message?: unknown }).message)
          ? (response as { message: string[] }).message.join('; ')
          : String((response as { message?: unknown }).message ?? exception.message);
    const made = make(status, codeForStatus(status), message);
    if (typeof response === 'object' && response && 'details' in response) {
      (made.body as ErrorBody).details = (response as { details: unknown }).details;
    }
    return made;
  }
  if (classifyDatabaseError(exception)) {
    return make(503, ErrorCode.DatabaseUnavailable, 'the database is unavailable; try again shortly', {
      'Retry-After': String(DATABASE_RETRY_AFTER_S),
    });
  }
  return make(500, ErrorCode.Internal, 'internal server error');
}
