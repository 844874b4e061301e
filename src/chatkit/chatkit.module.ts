/**
 * The ChatKit protocol: POST /chatkit and the REST thread routes (both on ChatKitService), the
 * stream pipeline, the per-thread run lock and the action registry. The responder comes from
 * whichever module provides RESPONDER; without one, the echo responder answers.
 */
import { DynamicModule, Module, type Provider } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ChatKitActions } from 'src/chatkit/chatkit.actions';
import { ChatKitController } from 'src/chatkit/chatkit.controller';
import { ChatKitMetrics } from 'src/chatkit/chatkit.metrics';
import { ChatKitService } from 'src/chatkit/chatkit.service';
import { EchoResponder } from 'src/chatkit/echo.responder';
import { RESPONDER } from 'src/chatkit/responder';
import { StreamSlots } from 'src/chatkit/stream-slots';
import { ThreadRunEntity } from 'src/chatkit/thread-run.entity';
import { ThreadRunLock } from 'src/chatkit/thread-run.lock';
import { ThreadsController } from 'src/threads/threads.controller';
import { ThreadsModule } from 'src/threads/threads.module';

@Module({})
export class ChatKitModule {
  /** `imports` bring the providers of RESPONDER, ATTACHMENT_LINKS and TRANSCRIBER when they exist. */
  static register(options: { imports?: DynamicModule['imports']; responder?: Provider } = {}): DynamicModule {
    return {
      module: ChatKitModule,
      imports: [TypeOrmModule.forFeature([ThreadRunEntity]), ThreadsModule, ...(options.imports ?? [])],
      controllers: [ChatKitController, ThreadsController],
      providers: [
        ChatKitService,
        ChatKitActions,
        ChatKitMetrics,
        ThreadRunLock,
        StreamSlots,
        options.responder ?? { provide: RESPONDER, useClass: EchoResponder },
      ],
      exports: [ChatKitService, ChatKitActions],
    };
  }
}
