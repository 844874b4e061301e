/**
 * A responder whose behaviour each test scripts, standing in for the model where a test is about
 * the protocol itself. It records every call it gets.
 */
import type { ThreadMetadata, ThreadStreamEvent, UserMessageItem } from 'src/protocol/chatkit.schemas';
import type { Responder, ResponderContext } from 'src/chatkit/chatkit.ports';
import { streamAssistantMessage } from 'src/chatkit/assistant-message.stream';

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
  yield* streamAssistantMessage({
    threadId: thread.id,
    id: opts.id ?? context.generateId('message'),
    createdAt: context.now(),
    pieces: (opts.chunks ?? [text]).map((chunk) => ({ text: chunk })),
  });
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
