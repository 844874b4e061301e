/**
 * The one error type services throw. `code` is a stable, machine-readable string that clients can
 * switch on; the global filter maps it to `{statusCode, code, message, requestId}` and, inside an
 * open stream, to a ChatKit `error` event. Messages must never carry secrets or other users' data.
 */
export enum ErrorCode {
  BadRequest = 'bad_request',
  ValidationFailed = 'validation_failed',
  PayloadTooLarge = 'payload_too_large',
  UnsupportedMediaType = 'unsupported_media_type',
  Unauthorized = 'unauthorized',
  TokenMissing = 'token_missing',
  TokenMalformed = 'token_malformed',
  TokenExpired = 'token_expired',
  TokenNotYetValid = 'token_not_yet_valid',
  TokenInvalidSignature = 'token_invalid_signature',
  TokenInvalidClaims = 'token_invalid_claims',
  TokenInvalidOrgClaim = 'token_invalid_org_claim',
  TokenAlgorithmNotAllowed = 'token_algorithm_not_allowed',
  AuthNotConfigured = 'auth_not_configured',
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  Conflict = 'conflict',
  ThreadBusy = 'thread_busy',
  RateLimited = 'rate_limited',
  TooManyStreams = 'too_many_streams',
  QuotaExceeded = 'quota_exceeded',
  NotImplemented = 'not_implemented',
  ServiceUnavailable = 'service_unavailable',
  DatabaseUnavailable = 'database_unavailable',
  RateLimitUnavailable = 'rate_limit_unavailable',
  Internal = 'internal_error',
}

const STATUS: Record<ErrorCode, number> = {
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.TokenMissing]: 401,
  [ErrorCode.TokenMalformed]: 401,
  [ErrorCode.TokenExpired]: 401,
  [ErrorCode.TokenNotYetValid]: 401,
  [ErrorCode.TokenInvalidSignature]: 401,
  [ErrorCode.TokenInvalidClaims]: 401,
  [ErrorCode.TokenInvalidOrgClaim]: 401,
  [ErrorCode.TokenAlgorithmNotAllowed]: 401,
  [ErrorCode.AuthNotConfigured]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.ThreadBusy]: 409,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.TooManyStreams]: 429,
  [ErrorCode.QuotaExceeded]: 429,
  [ErrorCode.NotImplemented]: 501,
  [ErrorCode.DatabaseUnavailable]: 503,
  [ErrorCode.RateLimitUnavailable]: 503,
  [ErrorCode.ServiceUnavailable]: 503,
  [ErrorCode.Internal]: 500,
};

/**
 * The generic code of an HTTP status, for errors that arrive as a bare status (Nest's own
 * exceptions, body-parser): the first code of the enum with that status, which is why each
 * status's generic code is listed before its specific ones.
 */
const GENERIC_CODE = new Map<number, ErrorCode>();
for (const code of Object.values(ErrorCode))
  if (!GENERIC_CODE.has(STATUS[code])) GENERIC_CODE.set(STATUS[code], code);

export function codeForStatus(status: number): string {
  return GENERIC_CODE.get(status) ?? (status >= 500 ? ErrorCode.Internal : ErrorCode.BadRequest);
}

export class AppException extends Error {
  readonly status: number;
  /** Machine-readable facts the body carries as `details` (which budget, when it resets). */
  details?: unknown;

  constructor(
    readonly code: ErrorCode | string,
    message: string,
    status?: number,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppException';
    this.status = status ?? STATUS[code as ErrorCode] ?? 500;
  }

  static notFound(what: string): AppException {
    return new AppException(ErrorCode.NotFound, `${what} not found`);
  }
}
