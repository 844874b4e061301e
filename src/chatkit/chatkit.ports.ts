/**
 * The ports of the protocol layer: what it calls in a higher layer without importing it. The
 * module that answers (the agent) provides each token, once; ChatKitModule.register receives it
 * in `imports`. Nothing else belongs here: a lower module the protocol needs (threads,
 * attachments) is imported directly.
 *
 * Responder: what produces the assistant's side of a turn. The protocol layer calls `respond`
 * for create, add_user_message, retry (with the user message) and for client-tool output /
 * structured input (with null), and streams, persists and cancels whatever it yields. A responder may mutate
 * `thread` (title, metadata): the pipeline notices, saves it and emits `thread.updated`.
 *
 * A responder must stop promptly when `signal` aborts (the client left) and must never write
 * events for another thread.
 */
import type {
  ThreadItem,
  ThreadMetadata,
  ThreadStreamEvent,
  UserMessageInput,
  UserMessageItem,
} from 'src/protocol/chatkit.schemas';
import type { RequestContext } from 'src/common/request-context';

export type { IdKind } from 'src/common/ids';
import type { IdKind } from 'src/common/ids';

export interface ResponderContext {
  request: RequestContext;
  /** The thread's items, oldest first, hidden ones included (for model history). */
  loadHistory(limit: number): Promise<ThreadItem[]>;
  /** Stores an item without streaming it (hidden context, an open workflow at the end of a run). */
  saveItem(item: ThreadItem): Promise<void>;
  generateId(kind: IdKind): string;
  /** ISO-8601 UTC "now", the clock items must use. */
  now(): string;
}

export interface Responder {
  /**
   * Refuses a new user message this responder cannot answer as asked (a composer model it does
   * not offer), by throwing an AppException: called before anything is stored, so a refused
   * message leaves no trace. Optional: without it every message is accepted.
   */
  checkInput?(input: UserMessageInput): void;
  respond(
    thread: ThreadMetadata,
    input: UserMessageItem | null,
    context: ResponderContext,
    signal: AbortSignal,
  ): AsyncIterable<ThreadStreamEvent>;
}

/** DI token for the active responder (the agent, or a scripted one in tests). */
export const RESPONDER = Symbol('RESPONDER');

/** Speech to text for `input.transcribe`. */
export interface Transcriber {
  transcribe(ctx: RequestContext, audio: Buffer, mimeType: string): Promise<{ text: string }>;
}

/**
 * DI token for the transcriber. Its provider may resolve to null (no transcription model): the
 * protocol then answers `input.transcribe` with 501.
 */
export const TRANSCRIBER = Symbol('TRANSCRIBER');
