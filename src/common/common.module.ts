/** Cross-cutting services every module may use: shutdown coordination and the count of requests in flight. */
import { Global, Module } from '@nestjs/common';
import { ActiveWork } from 'src/common/active-work';
import { GracefulShutdown } from 'src/common/graceful-shutdown';
import { InFlightRequests } from 'src/common/in-flight-requests';

@Global()
@Module({
  providers: [ActiveWork, GracefulShutdown, InFlightRequests],
  exports: [ActiveWork, InFlightRequests],
})
export class CommonModule {}
