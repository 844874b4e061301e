/**
 * Turns the body parser's errors into AppExceptions with fixed messages. Its own messages quote
 * the body (JSON.parse shows the text around the error) or the request headers, and Nest would
 * pass them on to the client: nothing the client sent may come back in an error message.
 */
import type { NextFunction, Request, Response } from 'express';
import { AppException, ErrorCode, codeForStatus } from 'src/common/app.exception';

/** What body-parser (through http-errors) puts on the errors it raises. */
interface BodyParserError {
  type?: unknown;
  status?: unknown;
}

const KNOWN: Record<string, [ErrorCode, string]> = {
  'entity.parse.failed': [ErrorCode.BadRequest, 'request body is not valid JSON'],
  'entity.too.large': [ErrorCode.PayloadTooLarge, 'request body is larger than the configured limit'],
  'parameters.too.many': [ErrorCode.PayloadTooLarge, 'request body has too many parameters'],
  'charset.unsupported': [ErrorCode.UnsupportedMediaType, 'unsupported charset in Content-Type'],
  'encoding.unsupported': [ErrorCode.UnsupportedMediaType, 'unsupported Content-Encoding'],
  'request.aborted': [ErrorCode.BadRequest, 'the request was aborted while its body was read'],
  'request.size.invalid': [ErrorCode.BadRequest, 'request body length does not match Content-Length'],
};

export function bodyParserException(err: unknown): AppException | undefined {
  const e = err as BodyParserError | undefined;
  if (!e || typeof e.type !== 'string' || typeof e.status !== 'number') return undefined;
  const known = KNOWN[e.type];
  if (known) return new AppException(known[0], known[1]);
  if (e.status >= 500) return undefined;
  return new AppException(codeForStatus(e.status), 'the request body could not be read', e.status);
}

/** Express error middleware, mounted right after the body parsers. */
export function bodyParserErrors(err: unknown, _req: Request, _res: Response, next: NextFunction): void {
  next(bodyParserException(err) ?? err);
}
