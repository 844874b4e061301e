/**
 * The canonical event sequence of one streamed assistant message (fact sheet §4.4 A): added →
 * content part added → a text delta per piece (with an annotation after a piece that cites a
 * source) → content part done → done. Every responder that streams plain text uses this, so the
 * sequence is written once; the message itself is assembled by AssistantMessageBuilder.
 */
import { AssistantMessageBuilder } from 'src/chatkit/assistant-message.builder';
import type { Source, ThreadStreamEvent } from 'src/protocol/chatkit.schemas';

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
  const message = new AssistantMessageBuilder({
    id: opts.id,
    threadId: opts.threadId,
    createdAt: opts.createdAt,
  });
  yield message.start();
  yield message.addPart(0, { type: 'output_text', text: '', annotations: [] });
  for await (const piece of opts.pieces) {
    if (opts.signal?.aborted) return;
    yield message.appendText(0, piece.text);
    if (piece.source) {
      yield message.addAnnotation(0, {
        type: 'annotation',
        source: piece.source,
        index: message.part(0).text.length,
      });
    }
  }
  yield message.finishPart(0);
  yield message.done();
}
