/**
 * Flushes the spans still buffered when the app shuts down (the batch processor exports every
 * few seconds), so the last requests before a deploy are not lost. Does nothing with tracing off.
 */
import { Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { activeTracing } from 'src/telemetry/tracing.state';

@Injectable()
export class TracingShutdown implements OnApplicationShutdown {
  async onApplicationShutdown(): Promise<void> {
    await activeTracing()?.flush();
  }
}

@Module({ providers: [TracingShutdown] })
export class TelemetryModule {}
