/**
 * A responder whose behaviour each test scripts, standing in for the model where a test is about
 * the protocol itself. It records every call it gets.
 */
import type { ThreadMetadata, ThreadStreamEvent, UserMessageItem } from 'src/chatkit/chatkit.schemas';
import type { Responder, ResponderContext } from 'src/chatkit/responder';

export type Script = (
  thread: ThreadMetadata,
  input: UserMessageItem | null,
  context: ResponderContext,
  signal: AbortSignal,
) => AsyncIterable<ThreadStreamEvent>;

export class ScriptedResponder implements Responder {
  script: Script = (thread, input, context) => assistantReply(thread, context, 'ok');
  readonly calls: Array<{
    threadId: string;
    input: UserMessageItem | null;
    metadata: Record<string, unknown>;
  }> = [];

  respond(
    thread: ThreadMetadata,
    input: UserMessageItem | null,
    context: ResponderContext,
    signal: AbortSignal,
  ) {
    this.calls.push({ threadId: thread.id, input, metadata: context.request.metadata });
    return this.script(thread, input, context, signal);
  }
}

/** The canonical assistant message sequence: added, part added, deltas, part done, done. */
export async function* assistantReply(
  thread: ThreadMetadata,
  context: ResponderContext,
  text: string,
  opts: { id?: string; chunks?: string[] } = {},
): AsyncIterable<ThreadStreamEvent> {
  const id = opts.id ?? context.generateId('message');
  const base = { id, thread_id: thread.id, created_at: context.now(), type: 'assistant_message' as const };
  yield { type: 'thread.item.added', item: { ...base, content: [] } };
  yield {
    type: 'thread.item.updated',
    item_id: id,
    update: {
      type: 'assistant_message.content_part.added',
      content_index: 0,
      content: { type: 'output_text', text: '', annotations: [] },
    },
  };
  for (const delta of opts.chunks ?? [text]) {
    yield {
      type: 'thread.item.updated',
      item_id: id,
      update: { type: 'assistant_message.content_part.text_delta', content_index: 0, delta },
    };
  }
  const content = { type: 'output_text' as const, text, annotations: [] };
  yield {
    type: 'thread.item.updated',
    item_id: id,
    update: { type: 'assistant_message.content_part.done', content_index: 0, content },
  };
  yield { type: 'thread.item.done', item: { ...base, content: [content] } };
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
