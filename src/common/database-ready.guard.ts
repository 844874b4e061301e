/**
 * Answers 503 `database_unavailable` on every data route while the app has not connected to the
 * database yet, instead of letting TypeORM fail somewhere deep inside a handler. Routes marked
 * @WithoutDatabase() (health, metrics) are always served.
 */
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DATABASE_RETRY_AFTER_S } from 'src/common/all-exceptions.filter';
import { AppException, ErrorCode } from 'src/common/app.exception';
import { WITHOUT_DATABASE } from 'src/common/decorators';
import { DatabaseLifecycle } from 'src/database/database.lifecycle';

@Injectable()
export class DatabaseReadyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly lifecycle: DatabaseLifecycle,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    if (
      this.reflector.getAllAndOverride<boolean>(WITHOUT_DATABASE, [context.getHandler(), context.getClass()])
    )
      return true;
    if (this.lifecycle.ready || (await this.lifecycle.connect())) return true;
    throw new AppException(
      ErrorCode.DatabaseUnavailable,
      'the database is unavailable; try again shortly',
      503,
      { 'Retry-After': String(DATABASE_RETRY_AFTER_S) },
    );
  }
}
