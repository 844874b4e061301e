/**
 * The simplest possible responder: streams the user's own words back as the assistant message
 * and titles a new thread with its first words. It exists so the protocol layer can run on its
 * own (and be exercised end to end) without any model; the agent module replaces it.
 */
import type { ThreadMetadata, ThreadStreamEvent, UserMessageItem } from 'src/chatkit/chatkit.schemas';
import type { Responder, ResponderContext } from 'src/chatkit/responder';

export function userText(input: UserMessageItem | null): string {
  if (!input) return '';
  return input.content
    .map((c) => (c.type === 'input_text' ? c.text : `@${c.text}`))
    .join('')
    .trim();
}

export function titleFrom(text: string, words = 6): string | undefined {
  const title = text.split(/\s+/).filter(Boolean).slice(0, words).join(' ');
  return title ? title.slice(0, 80) : undefined;
}

export class EchoResponder implements Responder {
  async *respond(
    thread: ThreadMetadata,
    input: UserMessageItem | null,
    context: ResponderContext,
    signal: AbortSignal,
  ): AsyncIterable<ThreadStreamEvent> {
    const text = input ? `You said: ${userText(input)}` : 'Thanks, noted.';
    const id = context.generateId('message');
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
    for (const word of text.split(/(?<=\s)/)) {
      if (signal.aborted) return;
      yield {
        type: 'thread.item.updated',
        item_id: id,
        update: { type: 'assistant_message.content_part.text_delta', content_index: 0, delta: word },
      };
    }
    const content = { type: 'output_text' as const, text, annotations: [] };
    yield {
      type: 'thread.item.updated',
      item_id: id,
      update: { type: 'assistant_message.content_part.done', content_index: 0, content },
    };
    yield { type: 'thread.item.done', item: { ...base, content: [content] } };
    if (!thread.title && input) thread.title = titleFrom(userText(input));
  }
}
