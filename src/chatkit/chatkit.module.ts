/**
 * The ChatKit protocol: POST /chatkit and the REST thread routes (both on ChatKitService), the
 * stream pipeline, the per-thread run lock and the action registry. It imports the lower modules
 * it needs (threads, attachments) and receives the higher one that answers through `imports`:
 * that module must export RESPONDER and may export TRANSCRIBER (chatkit.ports.ts). This module
 * must never import the agent itself, nor provide a responder of its own.
 */
import { DynamicModule, Module, type InjectionToken } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AttachmentsModule } from 'src/attachments/attachments.module';
import { ChatKitActions, type ActionHandler } from 'src/chatkit/chatkit.actions';
import { ChatKitController } from 'src/chatkit/chatkit.controller';
import { ChatKitMetrics } from 'src/chatkit/chatkit.metrics';
import { ACTION_HANDLERS } from 'src/chatkit/chatkit.ports';
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
  /**
   * `imports`: the module(s) providing the ports, e.g. `ChatKitModule.register({ imports: [AgentModule] })`.
   * `actionHandlers`: the tokens under which those modules provide lists of action handlers
   * (ACTION_HANDLERS when absent); each is optional.
   */
  static register(options: {
    imports: NonNullable<DynamicModule['imports']>;
    actionHandlers?: InjectionToken[];
  }): DynamicModule {
    const handlerTokens = options.actionHandlers ?? [ACTION_HANDLERS];
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
        {
          provide: ChatKitActions,
          useFactory: (...lists: Array<ActionHandler[] | undefined>) =>
            new ChatKitActions(lists.flatMap((list) => list ?? [])),
          inject: handlerTokens.map((token) => ({ token, optional: true })),
        },
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
