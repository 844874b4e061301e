/**
 * Widget actions (`threads.custom_action`, streaming, and `threads.sync_custom_action`, JSON).
 * Feature modules register a handler per action `type` at start-up; an action nobody registered
 * is a clear 400, never a silent no-op.
 */
import { Injectable } from '@nestjs/common';
import type {
  Action,
  ThreadItem,
  ThreadMetadata,
  ThreadStreamEvent,
  WidgetItem,
} from 'src/protocol/chatkit.schemas';
import type { ResponderContext } from 'src/chatkit/chatkit.ports';

export interface ActionHandler {
  type: string;
  /** Streams events for `threads.custom_action`. */
  action?(
    thread: ThreadMetadata,
    action: Action,
    sender: WidgetItem | null,
    context: ResponderContext,
    signal: AbortSignal,
  ): AsyncIterable<ThreadStreamEvent>;
  /** Answers `threads.sync_custom_action`; a returned item is stored and sent back. */
  sync?(
    thread: ThreadMetadata,
    action: Action,
    sender: WidgetItem | null,
    context: ResponderContext,
  ): Promise<{ updated_item?: ThreadItem | null }>;
}

@Injectable()
export class ChatKitActions {
  private readonly handlers = new Map<string, ActionHandler>();

  register(handler: ActionHandler): void {
    if (this.handlers.has(handler.type))
      throw new Error(`action handler for "${handler.type}" registered twice`);
    this.handlers.set(handler.type, handler);
  }

  get(type: string): ActionHandler | undefined {
    return this.handlers.get(type);
  }

  get types(): string[] {
    return [...this.handlers.keys()];
  }
}
