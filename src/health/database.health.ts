/**
 * Readiness of the database: a `SELECT 1` with a short timeout. If the app has not managed to
 * connect yet, it asks the lifecycle for one more attempt, so readiness recovers as soon as the
 * database does, without a restart.
 */
import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DatabaseLifecycle } from 'src/database/database.lifecycle';

const PING_TIMEOUT_MS = 2_000;

@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly lifecycle: DatabaseLifecycle,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async ping(key = 'database') {
    const check = this.indicator.check(key);
    if (!this.lifecycle.ready && !(await this.lifecycle.connect())) {
      return check.down({ message: 'not connected' });
    }
    try {
      await withTimeout(this.dataSource.query('SELECT 1'), PING_TIMEOUT_MS);
      return check.up();
    } catch (err) {
      return check.down({ message: (err as Error).message });
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
