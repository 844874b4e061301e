/**
 * The stop request through the ChatKit protocol: `threads.sync_custom_action` with the action
 * `{ "type": "stop_response" }` stops the answer running on the thread from any tab or replica,
 * exactly as `POST /chatkit/threads/{id}/stop` does. It answers `{}`; nothing is stored for it.
 */
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ChatKitActions } from 'src/chatkit/chatkit.actions';
import { RunStops } from 'src/chatkit/run-stops';

export const STOP_RESPONSE_ACTION = 'stop_response';

@Injectable()
export class StopResponseAction implements OnModuleInit {
  constructor(
    private readonly actions: ChatKitActions,
    private readonly stops: RunStops,
  ) {}

  onModuleInit(): void {
    this.actions.register({
      type: STOP_RESPONSE_ACTION,
      // The service loaded the thread for the user before calling this: it is theirs.
      sync: async (thread) => {
        await this.stops.request(thread.id);
        return {};
      },
    });
  }
}
