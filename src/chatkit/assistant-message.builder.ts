/**
 * The one owner of a turn's assistant message while it streams: it starts the item, appends
 * content parts, text deltas and annotations, finishes parts and the item, and returns the ChatKit
 * event for each step. Every responder that streams an assistant message (the agent's mapper,
 * streamAssistantMessage) goes through it, so the message is assembled in one place.
 *
 * Each event it returns is remembered (weakly) with the message as the client has it once that
 * event is applied; the pipeline reads that with `messageAfter` to store a partial answer on a
 * cancel or failure instead of re-applying the deltas itself. The snapshot is per event, not the
 * builder's latest state, because a responder may compute several events before the pipeline has
 * sent the first of them, and only what was sent may be stored.
 *
 * It must never hand out an object it mutates later: events and messages are copies.
 */
import type {
  Annotation,
  AssistantMessageContent,
  AssistantMessageItem,
  ThreadItemUpdate,
  ThreadStreamEvent,
} from 'src/protocol/chatkit.schemas';

export interface AssistantMessageStart {
  id: string;
  threadId: string;
  createdAt: string;
  /** Parts the message already has when it starts (a Responses output item may carry some). */
  content?: AssistantMessageContent[];
}

const sent = new WeakMap<ThreadStreamEvent, AssistantMessageItem>();

/**
 * The assistant message as the client has it after `event`, when a builder produced the event;
 * undefined for any other event (a responder that writes its events by hand).
 */
export function messageAfter(event: ThreadStreamEvent): AssistantMessageItem | undefined {
  return sent.get(event);
}

const emptyPart = (): AssistantMessageContent => ({ type: 'output_text', text: '', annotations: [] });

export class AssistantMessageBuilder {
  private readonly item: AssistantMessageItem;
  /**
   * The next `annotation_index` per content index. Counted apart from the part's annotations: a
   * part that arrived with annotations still numbers the streamed ones from 0, as the wire always has.
   */
  private readonly annotationCounts: number[];

  constructor(start: AssistantMessageStart) {
    // Key order is the wire's: id, thread_id, created_at, type, content.
    this.item = {
      id: start.id,
      thread_id: start.threadId,
      created_at: start.createdAt,
      type: 'assistant_message',
      content: start.content ?? [],
    };
    this.annotationCounts = this.item.content.map(() => 0);
  }

  get id(): string {
    return this.item.id;
  }

  /** `thread.item.added` for the message as it stands. */
  start(): ThreadStreamEvent {
    return this.remember({ type: 'thread.item.added', item: structuredClone(this.item) });
  }

  /** Sets (or replaces) the part at `index`, padding with empty parts before it. */
  addPart(index: number, content: AssistantMessageContent): ThreadStreamEvent {
    this.setPart(index, content);
    return this.update({ type: 'assistant_message.content_part.added', content_index: index, content });
  }

  appendText(index: number, delta: string): ThreadStreamEvent {
    this.at(index).text += delta;
    return this.update({ type: 'assistant_message.content_part.text_delta', content_index: index, delta });
  }

  addAnnotation(index: number, annotation: Annotation): ThreadStreamEvent {
    this.at(index).annotations.push(annotation);
    const annotationIndex = this.annotationCounts[index]++;
    return this.update({
      type: 'assistant_message.content_part.annotation_added',
      content_index: index,
      annotation_index: annotationIndex,
      annotation,
    });
  }

  /** `content_part.done`; `text`, when given, is authoritative over the deltas. */
  finishPart(index: number, text?: string): ThreadStreamEvent {
    const part = this.at(index);
    if (text !== undefined) part.text = text;
    return this.update({ type: 'assistant_message.content_part.done', content_index: index, content: part });
  }

  /** Replaces every part (the final item the model sent), before `done`. */
  replaceContent(content: AssistantMessageContent[]): void {
    this.item.content = content;
  }

  /** `thread.item.done` with the message as it stands. */
  done(): ThreadStreamEvent {
    return this.remember({ type: 'thread.item.done', item: this.message() });
  }

  /** The part at `index` as it stands (created empty if missing); read it, never change it. */
  part(index: number): Readonly<AssistantMessageContent> {
    return this.at(index);
  }

  /** The parts as they stand; read them, never change them. */
  get content(): readonly Readonly<AssistantMessageContent>[] {
    return this.item.content;
  }

  /** A copy of the message as it stands. */
  message(): AssistantMessageItem {
    return structuredClone(this.item);
  }

  /** The text of every part, joined. */
  text(): string {
    return this.item.content.map((part) => part.text).join('');
  }

  private at(index: number): AssistantMessageContent {
    if (!this.item.content[index]) this.setPart(index, emptyPart());
    return this.item.content[index];
  }

  private setPart(index: number, content: AssistantMessageContent): void {
    while (this.item.content.length < index) this.item.content.push(emptyPart());
    this.item.content[index] = content;
    this.annotationCounts[index] ??= 0;
  }

  private update(update: ThreadItemUpdate): ThreadStreamEvent {
    return this.remember({
      type: 'thread.item.updated',
      item_id: this.item.id,
      // A text delta (most events) holds only strings and a number, built here: nothing to copy.
      // The others carry the builder's own part or annotation, which later calls change.
      update: update.type === 'assistant_message.content_part.text_delta' ? update : structuredClone(update),
    });
  }

  private remember(event: ThreadStreamEvent): ThreadStreamEvent {
    // Strings are shared, so this costs one small array per part, not a copy of the text.
    sent.set(event, {
      ...this.item,
      content: this.item.content.map((part) => ({ ...part, annotations: [...part.annotations] })),
    });
    return event;
  }
}
