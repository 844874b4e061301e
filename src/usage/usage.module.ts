/**
 * Token accounting: owns token_usage and usage_counters, answers GET /api/usage and admits turns
 * against the token budgets. The protocol layer stores a turn's usage through the SQL parts of
 * usage.sql.ts, inside its own final statement; nothing here ever reads a message.
 */
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { QuotaService } from 'src/usage/quota.service';
import { TokenUsageEntity } from 'src/usage/token-usage.entity';
import { UsageCounterEntity } from 'src/usage/usage-counter.entity';
import { UsageController } from 'src/usage/usage.controller';
import { UsageMetrics } from 'src/usage/usage.metrics';
import { UsageService } from 'src/usage/usage.service';

@Module({
  imports: [TypeOrmModule.forFeature([TokenUsageEntity, UsageCounterEntity])],
  controllers: [UsageController],
  providers: [QuotaService, UsageService, UsageMetrics],
  exports: [QuotaService],
})
export class UsageModule {}
