/** Conversation state in PostgreSQL: the store every other module reads threads and items through. */
import { Module } from '@nestjs/common';
import { ThreadStore } from 'src/threads/thread.store';

@Module({ providers: [ThreadStore], exports: [ThreadStore] })
export class ThreadsModule {}
