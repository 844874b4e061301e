/** Cross-cutting services every module may use: shutdown coordination. */
import { Global, Module } from '@nestjs/common';
import { ActiveWork } from 'src/common/active-work';
import { GracefulShutdown } from 'src/common/graceful-shutdown';

@Global()
@Module({ providers: [ActiveWork, GracefulShutdown], exports: [ActiveWork] })
export class CommonModule {}
