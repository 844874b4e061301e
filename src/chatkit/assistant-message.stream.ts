/**
 * The canonical event sequence of one streamed assistant message (fact sheet §4.4 A): added →
 * content part added → a text delta per piece (with an annotation after a piece that cites a
 * source) → content part done → done. Every responder that streams plain text uses this, so the
 * sequence is written once.
 */
import type {
  Annotation,
  AssistantMessageContent,
  AssistantMessageItem,
  Source,
  ThreadItemUpdate,
  ThreadStreamEvent,
} from 'src/protocol/chatkit.schemas';

export interface TextPiece {
  text: string;
  /** Cited right after this piece's text. */
  source?: Source;
}

export interface AssistantMessageStream {
  threadId: string;
  id: string;
  createdAt: string;
  pieces: Iterable<TextPiece> | AsyncIterable<TextPiece>;
  /** Stops between pieces when aborted (the pipeline stores what was streamed). */
  signal?: AbortSignal;
}

export async function* streamAssistantMessage(
  opts: AssistantMessageStream,
): AsyncGenerator<ThreadStreamEvent, void> {
  const { id } = opts;
  const base = {
    id,
    thread_id: opts.threadId,
    created_at: opts.createdAt,
    type: 'assistant_message' as const,
  };
  const part: AssistantMessageContent = { type: 'output_text', text: '', annotations: [] };
  const update = (u: ThreadItemUpdate): ThreadStreamEvent => ({
    type: 'thread.item.updated',
    item_id: id,
    update: u,
  });

  yield { type: 'thread.item.added', item: { ...base, content: [] } };
  yield update({
    type: 'assistant_message.content_part.added',
    content_index: 0,
    content: structuredClone(part),
  });
  for await (const piece of opts.pieces) {
    if (opts.signal?.aborted) return;
    part.text += piece.text;
    yield update({ type: 'assistant_message.content_part.text_delta', content_index: 0, delta: piece.text });
    if (piece.source) {
      const annotation: Annotation = { type: 'annotation', source: piece.source, index: part.text.length };
      part.annotations.push(annotation);
      yield update({
        type: 'assistant_message.content_part.annotation_added',
        content_index: 0,
        annotation_index: part.annotations.length - 1,
        annotation,
      });
    }
  }
  yield update({
    type: 'assistant_message.content_part.done',
    content_index: 0,
    content: structuredClone(part),
  });
  const item: AssistantMessageItem = { ...base, content: [part] };
  yield { type: 'thread.item.done', item };
}
