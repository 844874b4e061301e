/**
 * The application root: imports every feature module and registers the global pipeline as APP_*
 * providers, so an app built from AppModule in a test behaves exactly like production.
 * Guard order matters: authentication first (the rate limiter keys on the user; failed attempts
 * have a budget per client address), then the rate limiter, then the database-availability check.
 * Pipe order matters too: text the database cannot store is refused before validation (and so
 * before anything can reach a query).
 */
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { ActionsModule } from 'src/actions/actions.module';
import { AgentModule } from 'src/agent/agent.module';
import { AuthModule } from 'src/auth/auth.module';
import { ChatKitModule } from 'src/chatkit/chatkit.module';
import { ACTION_HANDLERS } from 'src/chatkit/chatkit.ports';
import { AllExceptionsFilter } from 'src/common/all-exceptions.filter';
import { DatabaseReadyGuard } from 'src/common/database-ready.guard';
import { CommonModule } from 'src/common/common.module';
import { LoggingModule } from 'src/common/logging.module';
import { StorableInputPipe } from 'src/common/storable-input.pipe';
import { ZodValidationPipe } from 'src/common/zod-validation.pipe';
import { CONFIG_NAMESPACES } from 'src/config/config.registry';
import { DatabaseModule } from 'src/database/database.module';
import { HealthModule } from 'src/health/health.module';
import { MetricsModule } from 'src/metrics/metrics.module';
import { PlaygroundModule } from 'src/playground/playground.module';
import { RagModule } from 'src/rag/rag.module';
import { RateLimitModule } from 'src/rate-limit/rate-limit.module';
import { ThrottledAuthGuard } from 'src/rate-limit/throttled-auth.guard';
import { UserThrottlerGuard } from 'src/rate-limit/user-throttler.guard';
import { TelemetryModule } from 'src/telemetry/telemetry.module';
import { TOOL_APPROVAL_HANDLERS } from 'src/tools/tool-approvals.service';
import { ToolsModule } from 'src/tools/tools.module';
import { UsageModule } from 'src/usage/usage.module';

@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      load: CONFIG_NAMESPACES,
      // Tests control the environment themselves; a developer's .env must not leak into them.
      ignoreEnvFile: process.env.NODE_ENV === 'test',
    }),
    // One registry for every timer of the app, stopped as a whole at shutdown; features add theirs
    // to it (a second forRoot() in a feature would make a second registry).
    ScheduleModule.forRoot(),
    CommonModule,
    LoggingModule,
    MetricsModule,
    TelemetryModule,
    DatabaseModule,
    AuthModule,
    RateLimitModule,
    HealthModule,
    RagModule,
    UsageModule,
    ChatKitModule.register({
      imports: [AgentModule, ActionsModule, ToolsModule],
      actionHandlers: [ACTION_HANDLERS, TOOL_APPROVAL_HANDLERS],
    }),
    PlaygroundModule,
  ],
  providers: [
    { provide: APP_GUARD, useExisting: ThrottledAuthGuard },
    { provide: APP_GUARD, useExisting: UserThrottlerGuard },
    { provide: APP_GUARD, useClass: DatabaseReadyGuard },
    { provide: APP_PIPE, useClass: StorableInputPipe },
    { provide: APP_PIPE, useValue: new ZodValidationPipe() },
    { provide: APP_FILTER, useClass: AllExceptionsFilter },
  ],
})
export class AppModule {}
