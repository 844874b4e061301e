/**
 * TypeORM wired to either the configured PostgreSQL server or the embedded one. The DataSource is
 * created without connecting (manualInitialization) so an unreachable database never stops the
 * app from starting; DatabaseLifecycle connects and migrates. It owns the job_leases table
 * (JobLeases: background jobs that run on one replica at a time).
 */
import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { databaseConfig, type DatabaseConfig } from 'src/config/database.config';
import { DatabaseLifecycle } from 'src/database/database.lifecycle';
import { EmbeddedPostgres } from 'src/database/embedded-postgres';
import { JobLeaseEntity } from 'src/database/job-lease.entity';
import { PreparedStatements } from 'src/database/prepared-statements';
import { JobLeases } from 'src/database/job-leases';
import { buildTypeOrmOptions } from 'src/database/typeorm.options';

@Global()
@Module({
  providers: [
    {
      provide: EmbeddedPostgres,
      inject: [databaseConfig.KEY],
      useFactory: (config: DatabaseConfig) =>
        new EmbeddedPostgres({ dataDir: config.embeddedDataDir, port: config.embeddedPort }),
    },
  ],
  exports: [EmbeddedPostgres],
})
class EmbeddedDatabaseModule {}

@Global()
@Module({
  imports: [
    EmbeddedDatabaseModule,
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY, EmbeddedPostgres],
      useFactory: async (config: DatabaseConfig, embedded: EmbeddedPostgres) => {
        const url = config.url ?? (await embedded.start());
        return { ...buildTypeOrmOptions(config, url), manualInitialization: true, autoLoadEntities: false };
      },
    }),
    TypeOrmModule.forFeature([JobLeaseEntity]),
  ],
  providers: [DatabaseLifecycle, JobLeases, PreparedStatements],
  exports: [DatabaseLifecycle, JobLeases, PreparedStatements],
})
export class DatabaseModule {}
