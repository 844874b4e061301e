/**
 * The smallest application the knowledge-base command-line tools need: validated config, the
 * database (connected and migrated exactly as the server does it, embedded or not), metrics (the
 * services record into them) and the knowledge-base services. No HTTP, no auth, no agent, no
 * docs seeding.
 *
 * With the embedded database this opens the same data directory as the server; PGlite is
 * single-process, so the server must not be running at the same time.
 */
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { CONFIG_NAMESPACES } from 'src/config/config.registry';
import { DatabaseModule } from 'src/database/database.module';
import { MetricsModule } from 'src/metrics/metrics.module';
import { RagCoreModule } from 'src/rag/rag.module';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, load: CONFIG_NAMESPACES }),
    MetricsModule,
    DatabaseModule,
    RagCoreModule,
  ],
})
export class RagCliModule {}
