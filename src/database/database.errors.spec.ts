import { QueryFailedError } from 'typeorm';
import { CannotExecuteNotConnectedError } from 'typeorm/error/CannotExecuteNotConnectedError';
import { ConnectionIsNotSetError } from 'typeorm/error/ConnectionIsNotSetError';
import { TypeORMError } from 'typeorm/error/TypeORMError';
import { classifyDatabaseError, isDatabaseConnectionError } from 'src/database/database.errors';

/** An error shaped as pg builds it from a server's ErrorResponse. */
function serverError(code: string, message: string, where: { routine?: string; file?: string } = {}) {
  return Object.assign(new Error(message), { name: 'error', code, severity: 'FATAL', ...where });
}

function socketError(code: string) {
  return Object.assign(new Error(`connect ${code} 10.0.0.1:5432`), { code, syscall: 'connect' });
}

const failedQuery = (driverError: Error) => new QueryFailedError('SELECT 1', [], driverError);

describe('classifyDatabaseError', () => {
  it.each(['08000', '08001', '08003', '08004', '08006', '08007', '08P01'])(
    'SQLSTATE %s (connection exception) is unreachable',
    (code) => {
      expect(classifyDatabaseError(serverError(code, 'connection failure'))).toBe('unreachable');
    },
  );

  it.each([
    ['57P01', 'unreachable'],
    ['57P02', 'unreachable'],
    ['57P03', 'refused'],
    ['53300', 'refused'],
    ['28000', 'misconfigured'],
    ['28P01', 'misconfigured'],
    ['3D000', 'misconfigured'],
    ['57014', 'timeout'],
  ])('SQLSTATE %s is %s', (code, failure) => {
    expect(classifyDatabaseError(serverError(code, 'whatever the server says'))).toBe(failure);
  });

  it('55000 from opening a session on a database closed to connections is refused', () => {
    const closed = serverError('55000', 'la base de données « x » n’accepte plus de connexions', {
      routine: 'CheckMyDatabase',
      file: 'postinit.c',
    });
    expect(classifyDatabaseError(closed)).toBe('refused');
    // A server that leaves out the location: the English message is the last resort.
    expect(
      classifyDatabaseError(serverError('55000', 'database "x" is not currently accepting connections')),
    ).toBe('refused');
  });

  it('55000 raised by a query is a bug, not an outage', () => {
    const currval = serverError('55000', 'currval of sequence "s" is not yet defined in this session', {
      routine: 'currval_oid',
      file: 'sequence.c',
    });
    expect(classifyDatabaseError(currval)).toBeUndefined();
    expect(classifyDatabaseError(failedQuery(currval))).toBeUndefined();
    // Even one whose text looks like the outage, when the server says where it came from.
    const lookalike = serverError('55000', 'is not currently accepting connections', {
      routine: 'something_else',
      file: 'slot.c',
    });
    expect(classifyDatabaseError(lookalike)).toBeUndefined();
  });

  it.each([
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'ENOTFOUND',
    'EAI_AGAIN',
    'EPIPE',
  ])('the socket error %s is unreachable', (code) => {
    expect(classifyDatabaseError(socketError(code))).toBe('unreachable');
  });

  it('finds socket errors inside an AggregateError or a cause', () => {
    const both = new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')], 'connect');
    expect(classifyDatabaseError(both)).toBe('unreachable');
    expect(classifyDatabaseError(new Error('wrapped', { cause: socketError('EHOSTUNREACH') }))).toBe(
      'unreachable',
    );
  });

  it.each([
    ['Connection terminated unexpectedly', 'unreachable'],
    ['Connection terminated', 'unreachable'],
    ['Client has encountered a connection error and is not queryable', 'unreachable'],
    ['Connection terminated due to connection timeout', 'timeout'],
    ['timeout exceeded when trying to connect', 'timeout'],
    ['Query read timeout', 'timeout'],
  ])('pg’s own "%s" is %s, bare or wrapped by TypeORM', (message, failure) => {
    expect(classifyDatabaseError(new Error(message))).toBe(failure);
    expect(classifyDatabaseError(failedQuery(new Error(message)))).toBe(failure);
  });

  it('TypeORM with no connection is unreachable', () => {
    expect(classifyDatabaseError(new CannotExecuteNotConnectedError('default'))).toBe('unreachable');
    expect(classifyDatabaseError(new ConnectionIsNotSetError('postgres'))).toBe('unreachable');
    expect(classifyDatabaseError(new TypeORMError('Driver not Connected'))).toBe('unreachable');
  });

  it('wrapped server errors are classified by their SQLSTATE', () => {
    expect(classifyDatabaseError(failedQuery(serverError('57P01', 'terminating connection')))).toBe(
      'unreachable',
    );
  });

  it.each([
    ['a unique violation', serverError('23505', 'duplicate key value violates unique constraint')],
    ['a syntax error', serverError('42601', 'syntax error at or near "SELEC"')],
    ['a lock timeout', serverError('55P03', 'could not obtain lock')],
    ['a plain Error mentioning a connection', new Error('Connection terminated by the user, see docs')],
    ['a plain Error', new Error('boom')],
    ['a string', 'ECONNREFUSED'],
    ['nothing', undefined],
  ])('%s is not an outage', (_, err) => {
    expect(isDatabaseConnectionError(err)).toBe(false);
  });

  it('stops on a cyclic cause', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(classifyDatabaseError(a)).toBeUndefined();
  });
});
