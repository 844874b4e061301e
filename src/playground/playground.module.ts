/** The browser playground at /playground (PLAYGROUND_ENABLED). */
import { Module } from '@nestjs/common';
import { PlaygroundController } from 'src/playground/playground.controller';

@Module({ controllers: [PlaygroundController] })
export class PlaygroundModule {}
