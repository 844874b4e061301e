/**
 * The ChatKit protocol: POST /chatkit and the REST thread routes (both on ChatKitService), the
 * stream pipeline, the per-thread run lock and the action registry. It imports the lower modules
 * it needs (threads, attachments) and receives the higher one that answers through `imports`:
 * that module must export RESPONDER and may export TRANSCRIBER (chatkit.ports.ts). This module
 * must never import the agent itself, nor provide a responder of its own.
 */
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AttachmentsModule } from 'src/attachments/attachments.module';
import { ChatKitActions } from 'src/chatkit/chatkit.actions';
import { ChatKitController } from 'src/chatkit/chatkit.controller';
import { ChatKitMetrics } from 'src/chatkit/chatkit.metrics';
import { ChatKitService } from 'src/chatkit/chatkit.service';
import { RunStops } from 'src/chatkit/run-stops';
import { StopResponseAction } from 'src/chatkit/stop-response.action';
import { StreamSlots } from 'src/chatkit/stream-slots';
import { ThreadRunEntity } from 'src/chatkit/thread-run.entity';
import { ThreadRunLock } from 'src/chatkit/thread-run.lock';
import { DeprecatedThreadsController, ThreadsController } from 'src/chatkit/threads.controller';
import { ThreadsModule } from 'src/threads/threads.module';
import { UsageModule } from 'src/usage/usage.module';

@Module({})
export class ChatKitModule {
  /** `imports`: the module(s) providing the ports, e.g. `ChatKitModule.register({ imports: [AgentModule] })`. */
  static register(options: { imports: NonNullable<DynamicModule['imports']> }): DynamicModule {
    return {
      module: ChatKitModule,
      imports: [
        TypeOrmModule.forFeature([ThreadRunEntity]),
        ThreadsModule,
        AttachmentsModule,
        UsageModule,
        ...options.imports,
      ],
      controllers: [ChatKitController, ThreadsController, DeprecatedThreadsController],
      providers: [
        ChatKitService,
        ChatKitActions,
        ChatKitMetrics,
        ThreadRunLock,
        StreamSlots,
        RunStops,
        StopResponseAction,
      ],
      exports: [ChatKitService, ChatKitActions],
    };
  }
}
