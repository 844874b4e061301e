/**
 * Tells a database outage from a bug: the one classification the exception filter, the database
 * lifecycle and the run lock share, so every route answers the same way for the same failure.
 *
 * It reads structured fields first (the SQLSTATE and the server's source location that pg copies
 * from the error packet, Node's socket error codes, TypeORM's error names); message text is only
 * matched for pg's own client-side errors, which carry no code and are never translated. A query
 * that fails for a reason of its own must never be classified here: it is a bug and must stay a
 * 500, loudly.
 */

/**
 * - `unreachable`: no connection, or it broke (network, server restart, backend terminated);
 * - `refused`: the server is up but takes no connection now (too many, starting, shutting down,
 *   the database closed to connections);
 * - `timeout`: no answer in time (connecting, waiting for a pooled connection, a query cut by
 *   the client-side timeout or by the server's statement_timeout);
 * - `misconfigured`: the server rejects the configured credentials or database name — still an
 *   outage to clients, but one an operator must fix.
 */
export type DatabaseFailure = 'unreachable' | 'refused' | 'timeout' | 'misconfigured';

const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

const SQLSTATE: Record<string, DatabaseFailure> = {
  '57P01': 'unreachable', // admin_shutdown: the backend was terminated
  '57P02': 'unreachable', // crash_shutdown
  '57P03': 'refused', // cannot_connect_now: starting up, shutting down, in recovery
  '53300': 'refused', // too_many_connections
  // query_canceled: statement_timeout, or an operator cancelling it; either way the database did
  // not answer this time, and a retry may well succeed.
  '57014': 'timeout',
  '28000': 'misconfigured', // invalid_authorization_specification (pg_hba.conf, no such role)
  '28P01': 'misconfigured', // invalid_password
  // invalid_catalog_name: the database in the URL does not exist. The app never names another
  // database in a query, so this only comes from connecting.
  '3D000': 'misconfigured',
};

/** pg's own client-side errors (no SQLSTATE), by their fixed English text. */
const PG_CLIENT_MESSAGES: Array<[RegExp, DatabaseFailure]> = [
  [/^Connection terminated due to connection timeout$/, 'timeout'],
  [/^timeout exceeded when trying to connect$/, 'timeout'],
  [/^Query read timeout$/, 'timeout'],
  [/^Connection terminated( unexpectedly)?$/, 'unreachable'],
  [/^Client has encountered a connection error and is not queryable$/, 'unreachable'],
  [/^Client was closed and is not queryable$/, 'unreachable'],
  [/^Cannot use a pool after calling end on the pool$/, 'unreachable'],
];

const TYPEORM_NOT_CONNECTED = new Set(['CannotExecuteNotConnectedError', 'ConnectionIsNotSetError']);

interface ErrorFields {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  routine?: unknown;
  file?: unknown;
  driverError?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** What kind of database outage `err` reports, or undefined when it is not one. */
export function classifyDatabaseError(err: unknown, depth = 0): DatabaseFailure | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  const e = err as ErrorFields;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : '';
  if (code) {
    if (code.startsWith('08')) return 'unreachable'; // connection_exception, the whole class
    if (SQLSTATE[code]) return SQLSTATE[code];
    if (code === '55000' && isDatabaseClosedToConnections(e)) return 'refused';
    if (SOCKET_CODES.has(code)) return 'unreachable';
  }
  if (typeof e.name === 'string' && TYPEORM_NOT_CONNECTED.has(e.name)) return 'unreachable';
  // TypeORM's driver before its pool exists (or after it was closed).
  if (e.name === 'TypeORMError' && message === 'Driver not Connected') return 'unreachable';
  if (!code) {
    for (const [pattern, failure] of PG_CLIENT_MESSAGES) if (pattern.test(message)) return failure;
  }
  // QueryFailedError wraps the driver's error; Node wraps socket errors in `cause` or, for a host
  // with several addresses, in an AggregateError.
  const nested = [e.driverError, e.cause, ...(Array.isArray(e.errors) ? e.errors : [])];
  for (const inner of nested) {
    const failure = classifyDatabaseError(inner, depth + 1);
    if (failure) return failure;
  }
  return undefined;
}

export function isDatabaseConnectionError(err: unknown): boolean {
  return classifyDatabaseError(err) !== undefined;
}

/**
 * SQLSTATE 55000 (object_not_in_prerequisite_state) is mostly raised by queries (a sequence's
 * currval before nextval, a replication slot in use…), which are bugs. Only the one raised while
 * opening a session for a database set to ALLOW_CONNECTIONS false is an outage: it comes from the
 * backend's start-up code, which the error packet names. The message is a last resort for
 * servers that leave the location out; it is only in English when lc_messages is.
 */
function isDatabaseClosedToConnections(e: ErrorFields): boolean {
  if (e.routine === 'CheckMyDatabase' || e.file === 'postinit.c') return true;
  if (e.routine === undefined && e.file === undefined) {
    return typeof e.message === 'string' && /is not currently accepting connections/.test(e.message);
  }
  return false;
}
