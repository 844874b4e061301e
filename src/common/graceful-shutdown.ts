/**
 * Graceful shutdown. On SIGTERM (Nest owns the signals through enableShutdownHooks) the server
 * stops accepting connections, idle keep-alive sockets are closed, and in-flight requests get up
 * to SHUTDOWN_GRACE_MS to finish; whatever is still open after that (long SSE streams) is cut, so
 * their cancellation handling stores partial answers before the database closes.
 */
import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { appConfig, type AppConfig } from 'src/config/app.config';
import { InFlightRequests } from 'src/common/in-flight-requests';
import { ActiveWork } from 'src/common/active-work';

@Injectable()
export class GracefulShutdown implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly inFlight: InFlightRequests,
    private readonly work: ActiveWork,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server?.listening) return;
    if (signal) this.logger.log(`${signal}: draining ${this.inFlight.size} in-flight request(s)`);
    server.close();
    server.closeIdleConnections();
    const drained = await this.inFlight.drained(this.config.shutdownGraceMs);
    if (!drained) this.logger.warn(`grace period over; closing ${this.inFlight.size} open connection(s)`);
    server.closeAllConnections();
    // Cut streams store their partial answers now; the database must stay open until they have.
    await this.work.settled(5_000);
  }
}
