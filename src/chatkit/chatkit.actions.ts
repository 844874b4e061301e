/**
 * Widget actions (`threads.custom_action`, streaming, and `threads.sync_custom_action`, JSON).
 * Feature modules register a handler per action `type` at start-up, or provide a list of them
 * as ACTION_HANDLERS (see chatkit.ports); an action nobody registered is a clear 400, never a
 * silent no-op.
 */
import { Inject, Injectable, Optional } from '@nestjs/common';
import type {
  Action,
  ThreadItem,
  ThreadMetadata,
  ThreadStreamEvent,
  WidgetItem,
} from 'src/protocol/chatkit.schemas';
import { ACTION_HANDLERS, type ResponderContext } from 'src/chatkit/chatkit.ports';

/** What a streaming action may ask for once its own events are out. */
export interface ActionFollowUp {
  /**
   * Run the responder (the agent) on the thread right after, in the same stream and run lease,
   * as after a client tool's output: it sees the thread's items, those of this action included.
   */
  respond?: boolean;
}

export interface ActionHandler {
  type: string;
  /**
   * Streams events for `threads.custom_action`; the iterator's return value may ask for a
   * follow-up (ActionFollowUp).
   */
  action?(
    thread: ThreadMetadata,
    action: Action,
    sender: WidgetItem | null,
    context: ResponderContext,
    signal: AbortSignal,
  ): AsyncIterable<ThreadStreamEvent, ActionFollowUp | void, undefined>;
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

  constructor(@Optional() @Inject(ACTION_HANDLERS) provided?: ActionHandler[] | null) {
    for (const handler of provided ?? []) this.register(handler);
  }

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
