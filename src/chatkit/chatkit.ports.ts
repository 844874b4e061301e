/**
 * The ports of the protocol layer: what it calls in a higher layer without importing it. The
 * module that answers (the agent) provides each token, once; ChatKitModule.register receives it
 * in `imports`. Nothing else belongs here: a lower module the protocol needs (threads,
 * attachments) is imported directly.
 *
 * Responder: what produces the assistant's side of a turn. The protocol layer calls `respond`
 * for create, add_user_message, retry (with the user message) and for client-tool output /
 * structured input (with null), and streams, persists and cancels whatever it yields. A responder
 * sees the thread read-only and changes it only through `context.updateThread`: the pipeline
 * applies and saves the change, and announces it with `thread.updated` when the client can see it.
 *
 * A responder must stop promptly when `signal` aborts (the client left) and must never write
 * events for another thread.
 *
 * Action handlers: widget actions answered by a higher layer (the configured action webhooks).
 */
import type {
  ThreadItem,
  ThreadMetadata,
  ThreadStatus,
  ThreadStreamEvent,
  UserMessageInput,
  UserMessageItem,
} from 'src/protocol/chatkit.schemas';
import type { RequestContext } from 'src/common/request-context';
import type { ModelCallUsage } from 'src/usage/usage.types';

export type { IdKind } from 'src/common/ids';
import type { IdKind } from 'src/common/ids';

/** The thread as a responder sees it: read-only, so every change goes through `updateThread`. */
export type ThreadView = Readonly<Omit<ThreadMetadata, 'metadata' | 'status'>> & {
  readonly status: Readonly<ThreadStatus>;
  readonly metadata: Readonly<Record<string, unknown>>;
};

/**
 * A change to the thread. `metadata` replaces the private metadata whole (it is stored, never
 * sent); `title` and `status` are what the client sees.
 */
export interface ThreadChange {
  title?: string;
  status?: ThreadStatus;
  metadata?: Record<string, unknown>;
}

export interface ResponderContext {
  request: RequestContext;
  /** The thread's items, oldest first, hidden ones included (for model history). */
  loadHistory(limit: number): Promise<ThreadItem[]>;
  /** Stores an item without streaming it (hidden context, an open workflow at the end of a run). */
  saveItem(item: ThreadItem): Promise<void>;
  generateId(kind: IdKind): string;
  /** ISO-8601 UTC "now", the clock items must use. */
  now(): string;
  /**
   * Records a thread change; the pipeline applies it after the responder's next event (or when
   * the turn ends), so the thread view reflects it from then on.
   */
  updateThread(change: ThreadChange): void;
  /**
   * Records what one model call spent (every call: answers, tool rounds, the title). In a
   * streamed turn it is stored with the turn's last write, in the same statement, and settles the
   * turn's token budget; a responder calls it once per model response, as the response ends.
   */
  recordUsage(usage: ModelCallUsage): void;
}

export interface Responder {
  /**
   * Refuses a new user message this responder cannot answer as asked (a composer model it does
   * not offer), by throwing an AppException: called before anything is stored, so a refused
   * message leaves no trace. Optional: without it every message is accepted.
   */
  checkInput?(input: UserMessageInput): void;
  /**
   * How many items `loadHistory` will ask for at the start of a turn, when the responder knows:
   * the protocol then reads them with the turn's first statement instead of a round trip of
   * their own. Optional: without it, loadHistory reads when it is called.
   */
  readonly historyLimit?: number;
  /**
   * With historyLimit: the responder uses nothing older than its `historyMessages`-th newest
   * message (user or assistant, the new one counted), so the turn's first read stops there, and
   * the first loadHistory call may get fewer items than it asked for though the thread has more.
   */
  readonly historyMessages?: number;
  respond(
    thread: ThreadView,
    input: UserMessageItem | null,
    context: ResponderContext,
    signal: AbortSignal,
  ): AsyncIterable<ThreadStreamEvent>;
}

/** DI token for the active responder (the agent, or a scripted one in tests). */
export const RESPONDER = Symbol('RESPONDER');

/**
 * DI token for a list of ActionHandler (chatkit.actions) a module of ChatKitModule.register's
 * `imports` provides; they are registered with the built-in ones at start-up. Optional. Another
 * module's list comes under a token of its own, named in ChatKitModule.register's `actionHandlers`.
 */
export const ACTION_HANDLERS = Symbol('ACTION_HANDLERS');

/** Speech to text for `input.transcribe`. */
export interface Transcriber {
  transcribe(ctx: RequestContext, audio: Buffer, mimeType: string): Promise<{ text: string }>;
}

/**
 * DI token for the transcriber. Its provider may resolve to null (no transcription model): the
 * protocol then answers `input.transcribe` with 501.
 */
export const TRANSCRIBER = Symbol('TRANSCRIBER');
