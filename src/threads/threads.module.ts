/** Conversation state in PostgreSQL: the store every other module reads threads and items through. */
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { FeedbackEntity } from 'src/threads/feedback.entity';
import { ThreadItemEntity } from 'src/threads/thread-item.entity';
import { ThreadEntity } from 'src/threads/thread.entity';
import { ThreadStore } from 'src/threads/thread.store';

@Module({
  imports: [TypeOrmModule.forFeature([ThreadEntity, ThreadItemEntity, FeedbackEntity])],
  providers: [ThreadStore],
  exports: [ThreadStore],
})
export class ThreadsModule {}
