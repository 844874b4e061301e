/**
 * The statements every turn and every read run, sent as named prepared statements straight to
 * the pool. Sent unnamed (as TypeORM's `query` does), PostgreSQL parses and plans a statement's
 * whole text on every call: for the turn's statements that is about as long as running them
 * (parse + bind about 0.8 ms of a 1.3 ms call, measured in the server log), and it sits between
 * the user's message and the first word. Named, each connection parses a text once and, after a
 * few calls, keeps a generic plan; the call sends only the name and the values.
 *
 * Names are per connection (a random tag of the connection, then the text's number in this
 * process): a session can outlive the connection that prepared its statements (the embedded
 * database keeps one session for every connection to it, the test suite shares one between apps),
 * and a new connection must never collide with what an earlier one left there. Texts built from
 * optional parts (the end of a turn) have a few variants, each its own statement; past
 * MAX_NAMED_STATEMENTS distinct texts, new ones go unnamed, so a text that varies by mistake
 * cannot grow the server's per-connection statement cache without bound.
 *
 * DATABASE_PREPARED_STATEMENTS=false sends everything unnamed: needed behind a connection pooler
 * in transaction mode that does not track prepared statements (PgBouncer before 1.21, or without
 * max_prepared_statements).
 *
 * Outside a transaction only: a statement that must join one goes through its EntityManager.
 */
import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import { databaseConfig, type DatabaseConfig } from 'src/config/database.config';
import { isDatabaseConnectionError } from 'src/database/database.errors';

export const MAX_NAMED_STATEMENTS = 256;

@Injectable()
export class PreparedStatements {
  /** Each distinct text's number, for this process's life. */
  private readonly numbers = new Map<string, number>();
  /** Each pooled connection's tag, for that connection's life. */
  private readonly tags = new WeakMap<PoolClient, string>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {}

  /** Runs one statement on a pooled connection; its rows. */
  async query<T extends QueryResultRow>(text: string, values: unknown[]): Promise<T[]> {
    // Looked up per call: the pool exists only while the data source is connected (it is
    // replaced when the database comes back after an outage).
    const pool = (this.dataSource.driver as { master?: Pool }).master;
    // Not connected, or not wanted: TypeORM's own path.
    if (!pool || !this.config.preparedStatements) return this.dataSource.query(text, values);
    if (this.config.logging) this.dataSource.logger.logQuery(text, values);
    const client = await pool.connect();
    let failure: Error | undefined;
    // A lent connection's own error event (its socket dropped) has no other listener; the
    // statement fails with it too.
    const onError = (err: Error): void => void (failure ??= err);
    client.on('error', onError);
    try {
      const result = await client.query<T>({ name: this.nameOf(client, text), text, values });
      return result.rows;
    } catch (err) {
      failure ??= err as Error;
      throw err;
    } finally {
      client.off('error', onError);
      // A connection that failed for its own sake (an outage: broken, timed out, shut down) is not
      // lent again; one whose statement failed for a reason of its own is fine.
      client.release(failure && isDatabaseConnectionError(failure) ? failure : undefined);
    }
  }

  private nameOf(client: PoolClient, text: string): string | undefined {
    let number = this.numbers.get(text);
    if (number === undefined) {
      if (this.numbers.size >= MAX_NAMED_STATEMENTS) return undefined;
      number = this.numbers.size + 1;
      this.numbers.set(text, number);
    }
    let tag = this.tags.get(client);
    if (tag === undefined) {
      tag = randomBytes(4).toString('hex');
      this.tags.set(client, tag);
    }
    return `ck_${tag}_${number}`;
  }
}
