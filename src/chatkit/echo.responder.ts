/**
 * The simplest possible responder: streams the user's own words back as the assistant message
 * and titles a new thread with its first words. It exists so the protocol layer can run on its
 * own (and be exercised end to end) without any model; the agent module replaces it.
 */
import type { ThreadMetadata, ThreadStreamEvent, UserMessageItem } from 'src/chatkit/chatkit.schemas';
import type { Responder, ResponderContext } from 'src/chatkit/responder';
import { streamAssistantMessage } from 'src/chatkit/assistant-message.stream';

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
    yield* streamAssistantMessage({
      threadId: thread.id,
      id: context.generateId('message'),
      createdAt: context.now(),
      pieces: text.split(/(?<=\s)/).map((word) => ({ text: word })),
      signal,
    });
    if (!thread.title && input) thread.title = titleFrom(userText(input));
  }
}
