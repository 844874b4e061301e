/**
 * The event pipeline every streaming request runs through (fact sheet §5.6, §5.9), as an async
 * generator of the events to send: `stream_options`, then the responder's events. It persists
 * `done` (upsert), `replaced` (upsert) and `removed` (delete) — into the turn's writes, stored when the turn ends
 * (turn-writes.ts) — keeps `added`/`updated` items
 * pending in memory (an assistant message as its builder says the client has it; any other item
 * by applying the updates, as the client does), applies and saves the thread changes the
 * responder records through its context (ThreadChanges) and yields those the client can see, and
 * turns failures into one `error` event. When `signal` aborts (the client left, or was cut as too slow a reader)
 * or the consumer stops iterating early, it aborts the responder and stores the partial answer
 * plus the "user cancelled" marker.
 *
 * It pulls the responder's next event only when its own consumer asks for one, so a slow reader
 * slows the responder instead of filling memory. It knows nothing of HTTP and must never write to
 * a response: the SSE writer (sse.stream.ts) consumes it, and enters the turn's read gate around
 * its pulls, so the responder's work runs inside that gate.
 *
 * Hidden-context items are stored but never streamed — for any event kind, not only `done`
 * (the reference leaks them on `added`/`replaced`).
 */
import { Logger } from '@nestjs/common';
import {
  isHiddenItem,
  type AssistantMessageContent,
  type AssistantMessageItem,
  type ThreadItem,
  type ThreadItemUpdate,
  type ThreadMetadata,
  type ThreadStreamEvent,
  type WorkflowItem,
} from 'src/protocol/chatkit.schemas';
import { toWireThread } from 'src/protocol/chatkit.wire';
import { messageAfter } from 'src/chatkit/assistant-message.builder';
import { CustomStreamError } from 'src/chatkit/chatkit.errors';
import type { ThreadChange } from 'src/chatkit/chatkit.ports';
import type { TurnWrites } from 'src/chatkit/turn-writes';
import type { TurnWriteSet } from 'src/threads/thread.store';
import { newId } from 'src/common/ids';

export const CANCELLED_MARKER = 'The user cancelled the stream. Stop responding to the prior request.';

export type PipelineOutcome = 'completed' | 'failed' | 'cancelled';

export interface PipelineHooks {
  onFirstEvent?(): void;
  onCancelled?(): void;
}

export interface PipelineOptions {
  allowCancel: boolean;
  /**
   * How long the responder may stay silent before the turn is given up (0: forever). A model
   * that stops sending mid-answer would otherwise hold the stream and the thread's run lease.
   */
  idleTimeoutMs: number;
  /**
   * Aborts the responder's own work: called when the idle timeout fires and when the consumer
   * stops early (then nothing else would tell the responder, whose signal only follows the client).
   */
  abortResponder?(reason: Error): void;
  /**
   * Stores the turn's progress so far every `everyMs` while it runs (an answer that outlives its
   * client: a reload must show how far it got). The set holds what the turn wrote since the last
   * save, plus copies of the answers still being written; the final write replaces those.
   */
  progress?: { everyMs: number; save(set: TurnWriteSet): void };
}

export class ResponderIdleError extends Error {
  constructor(ms: number) {
    super(`the responder sent nothing for ${ms} ms`);
    this.name = 'ResponderIdleError';
  }
}

const logger = new Logger('StreamPipeline');

/**
 * Yields the events to send for one turn and returns how it ended. `signal` aborts when the
 * client is gone; a consumer that stops early (`return()`) counts as a cancellation too.
 */
export async function* runPipeline(
  writes: TurnWrites,
  thread: ThreadMetadata,
  changes: ThreadChanges,
  events: AsyncIterable<ThreadStreamEvent>,
  signal: AbortSignal,
  options: PipelineOptions,
  hooks: PipelineHooks = {},
): AsyncGenerator<ThreadStreamEvent, PipelineOutcome, undefined> {
  const pending = new Map<string, ThreadItem>();
  // Checked after every event, but only a recorded change costs anything: the responder says
  // what it changed (context.updateThread), so nothing is compared per token.
  // One event or none: yielded with a plain `yield`, as a `yield*` of an array would wrap it in
  // an async iterator (and an await) for every event of the turn.
  const threadChanged = (): ThreadStreamEvent | undefined => {
    const change = changes.take();
    if (!change) return undefined;
    const { stored, visible } = applyThreadChange(thread, change);
    if (!stored) return undefined;
    writes.saveThread(thread);
    // The wire thread always carries `metadata: {}`, so a private-metadata change (the agent's
    // token counts, every turn) would send a thread.updated that says nothing; the reference
    // sends one anyway.
    if (!visible) return undefined;
    return { type: 'thread.updated', thread: toWireThread(thread) };
  };

  const iterator = events[Symbol.asyncIterator]();
  const idle = new IdleTimer(options.idleTimeoutMs);
  const aborted = new AbortWatch(signal);
  // Set once the turn has ended on its own; a consumer that stops before that cancels it.
  let ended = false;
  let nextProgressAt = options.progress ? performance.now() + options.progress.everyMs : Infinity;
  const cancel = (): void => {
    // Stop the responder and keep what the user already saw.
    void iterator.return?.().catch(() => undefined);
    hooks.onCancelled?.();
    persistCancelled(writes, thread.id, pending);
  };

  try {
    yield { type: 'stream_options', stream_options: { allow_cancel: options.allowCancel } };
    let first = true;
    try {
      for (;;) {
        const next = await nextEvent(iterator, signal, idle, aborted);
        if (next === 'aborted') break;
        if (next === 'idle') {
          options.abortResponder?.(new Error('responder idle timeout'));
          void iterator.return?.().catch(() => undefined);
          throw new ResponderIdleError(options.idleTimeoutMs);
        }
        if (next.done) break;
        if (first) {
          first = false;
          hooks.onFirstEvent?.();
        }
        if (handleEvent(next.value, pending, writes)) yield next.value;
        const updated = threadChanged();
        if (updated) yield updated;
        if (options.progress && performance.now() >= nextProgressAt) {
          nextProgressAt = performance.now() + options.progress.everyMs;
          options.progress.save(progressSoFar(writes, pending));
        }
      }
      if (!signal.aborted) {
        const changed = threadChanged();
        ended = true;
        if (changed) yield changed;
        return 'completed';
      }
    } catch (err) {
      if (signal.aborted) {
        // The responder failed because it was aborted; that is a cancellation, not an error.
      } else {
        ended = true;
        // What the user already saw of the answer is kept, so a retry or a reload shows it.
        persistPartialAnswers(writes, pending);
        if (!(err instanceof CustomStreamError))
          logger.warn(`stream failed: ${(err as Error)?.message ?? String(err)}`);
        yield errorEvent(err);
        const changed = threadChanged();
        if (changed) yield changed;
        return 'failed';
      }
    }
    ended = true;
    cancel();
    return 'cancelled';
  } finally {
    idle.stop();
    aborted.stop();
    if (!ended) {
      // The consumer stopped pulling: nobody reads the rest of the answer.
      options.abortResponder?.(new Error('the stream was stopped'));
      cancel();
    }
  }
}

/** Records or tracks one event; says whether the client may see it. */
function handleEvent(
  event: ThreadStreamEvent,
  pending: Map<string, ThreadItem>,
  writes: TurnWrites,
): boolean {
  switch (event.type) {
    case 'thread.item.added':
      pending.set(event.item.id, structuredClone(event.item));
      return !isHiddenItem(event.item);
    case 'thread.item.done':
      writes.upsert(event.item);
      pending.delete(event.item.id);
      return !isHiddenItem(event.item);
    case 'thread.item.replaced':
      writes.upsert(event.item);
      pending.delete(event.item.id);
      return !isHiddenItem(event.item);
    case 'thread.item.removed':
      writes.delete(event.item_id);
      pending.delete(event.item_id);
      return true;
    case 'thread.item.updated': {
      const item = pending.get(event.item_id);
      if (!item) return true;
      // A builder's event says what the message is after it; only hand-written events (a
      // scripted responder's, a workflow's) are applied here.
      const built = messageAfter(event);
      if (built) pending.set(event.item_id, built);
      else applyUpdate(item, event.update);
      return !isHiddenItem(item);
    }
  }
  return true;
}

/**
 * Applies a content or workflow update to the pending copy, as the client does on screen: the
 * fallback for updates that did not come from an AssistantMessageBuilder.
 */
export function applyUpdate(item: ThreadItem, update: ThreadItemUpdate): void {
  if (item.type === 'assistant_message') {
    const content = item.content;
    const ensure = (index: number): AssistantMessageContent => {
      while (content.length <= index) content.push({ type: 'output_text', text: '', annotations: [] });
      return content[index];
    };
    switch (update.type) {
      case 'assistant_message.content_part.added':
        ensure(update.content_index);
        content[update.content_index] = structuredClone(update.content);
        return;
      case 'assistant_message.content_part.text_delta':
        ensure(update.content_index).text += update.delta;
        return;
      case 'assistant_message.content_part.annotation_added': {
        const part = ensure(update.content_index);
        part.annotations ??= [];
        if (update.annotation_index >= part.annotations.length) part.annotations.push(update.annotation);
        else part.annotations.splice(update.annotation_index, 0, update.annotation);
        return;
      }
      case 'assistant_message.content_part.done':
        ensure(update.content_index);
        content[update.content_index] = structuredClone(update.content);
        return;
    }
  }
  if (item.type === 'workflow') {
    const tasks = (item as WorkflowItem).workflow.tasks;
    if (update.type === 'workflow.task.added') tasks.push(structuredClone(update.task));
    if (update.type === 'workflow.task.updated') tasks[update.task_index] = structuredClone(update.task);
  }
}

/** What the turn wrote since the last save, and its answers as far as they have got. */
function progressSoFar(writes: TurnWrites, pending: Map<string, ThreadItem>): TurnWriteSet {
  const set = writes.take();
  for (const item of pending.values()) {
    if (item.type === 'assistant_message' && visibleText(item).trim())
      set.upserts.push(structuredClone(item));
  }
  return set;
}

const visibleText = (item: AssistantMessageItem): string => item.content.map((c) => c.text).join('');

/** Keeps pending assistant messages that have any visible text; empty ones are dropped. */
function persistPartialAnswers(writes: TurnWrites, pending: Map<string, ThreadItem>): void {
  for (const item of pending.values()) {
    if (item.type === 'assistant_message' && visibleText(item).trim()) writes.upsert(item);
  }
}

function persistCancelled(writes: TurnWrites, threadId: string, pending: Map<string, ThreadItem>): void {
  persistPartialAnswers(writes, pending);
  writes.upsert({
    type: 'sdk_hidden_context',
    id: newId('sdk_hidden_context'),
    thread_id: threadId,
    created_at: new Date().toISOString(),
    content: CANCELLED_MARKER,
  });
}

function errorEvent(err: unknown): ThreadStreamEvent {
  if (err instanceof CustomStreamError) {
    return { type: 'error', code: 'custom', message: err.message, allow_retry: err.allowRetry };
  }
  return { type: 'error', code: 'stream.error', allow_retry: true };
}

/**
 * One idle timer for a whole turn, re-armed for each wait with `refresh()` instead of a timer
 * made and cleared per event. `wait` says what to call if it fires before `clear`.
 */
class IdleTimer {
  private onIdle?: () => void;
  private readonly timer?: NodeJS.Timeout;

  constructor(ms: number) {
    if (ms) this.timer = setTimeout(() => this.onIdle?.(), ms);
  }

  wait(onIdle: () => void): void {
    if (!this.timer) return;
    this.onIdle = onIdle;
    this.timer.refresh();
  }

  clear(): void {
    this.onIdle = undefined;
  }

  stop(): void {
    this.onIdle = undefined;
    clearTimeout(this.timer);
  }
}

/**
 * One abort listener for a whole turn, pointed at the current wait, instead of a listener added
 * and removed per event. `wait` says what to call if the signal aborts before `clear`.
 */
class AbortWatch {
  private onAbort?: () => void;
  private readonly fire = (): void => this.onAbort?.();

  constructor(private readonly signal: AbortSignal) {
    signal.addEventListener('abort', this.fire, { once: true });
  }

  wait(onAbort: () => void): void {
    this.onAbort = onAbort;
  }

  clear(): void {
    this.onAbort = undefined;
  }

  stop(): void {
    this.onAbort = undefined;
    this.signal.removeEventListener('abort', this.fire);
  }
}

/**
 * The responder's next event, or 'aborted' (the client left) or 'idle' (the idle timer fired),
 * whichever comes first. Both watches are cleared once it settles: a Promise.race against one
 * long-lived "aborted" promise would keep a reaction per event until the stream ends.
 */
function nextEvent<T>(
  iterator: AsyncIterator<T>,
  signal: AbortSignal,
  idle: IdleTimer,
  aborted: AbortWatch,
): Promise<IteratorResult<T> | 'aborted' | 'idle'> {
  if (signal.aborted) return Promise.resolve('aborted');
  return new Promise((resolve, reject) => {
    const settle = (): void => {
      idle.clear();
      aborted.clear();
    };
    aborted.wait(() => {
      settle();
      resolve('aborted');
    });
    idle.wait(() => {
      settle();
      resolve('idle');
    });
    iterator.next().then(
      (result) => {
        settle();
        resolve(result);
      },
      (error: unknown) => {
        settle();
        // Passed on as thrown: errorEvent() tells the kinds apart.
        reject(error as Error);
      },
    );
  });
}

/**
 * The thread changes a responder recorded since the pipeline last looked, merged (a later value
 * wins). The responder's context writes here; the pipeline takes them after each event.
 */
export class ThreadChanges {
  private pending: ThreadChange | null = null;

  record(change: ThreadChange): void {
    this.pending = { ...this.pending, ...change };
  }

  take(): ThreadChange | null {
    const change = this.pending;
    this.pending = null;
    return change;
  }
}

/**
 * Applies `change` to `thread`; says whether anything saveThread stores changed, and whether the
 * client can see it (toWireThread sends nothing else that can change).
 */
export function applyThreadChange(
  thread: ThreadMetadata,
  change: ThreadChange,
): { stored: boolean; visible: boolean } {
  let visible = false;
  let stored = false;
  if (change.title !== undefined && change.title !== thread.title) {
    thread.title = change.title;
    visible = true;
  }
  if (change.status !== undefined && JSON.stringify(change.status) !== JSON.stringify(thread.status)) {
    thread.status = structuredClone(change.status);
    visible = true;
  }
  // Compared once per change (the agent records one per turn), never per event.
  if (
    change.metadata !== undefined &&
    JSON.stringify(change.metadata) !== JSON.stringify(thread.metadata ?? {})
  ) {
    thread.metadata = structuredClone(change.metadata);
    stored = true;
  }
  return { stored: stored || visible, visible };
}
