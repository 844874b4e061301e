/**
 * The ChatKit protocol: answers the ten JSON requests with a value, and the six streaming ones with
 * the events of the stream pipeline. Requests arrive parsed (a bad body was refused by the global
 * validation pipe, see ChatKitRequestDto). Everything else that can refuse a streaming request
 * (unknown thread, busy thread, bad retry target, no pending tool call, item not pending, unknown
 * action) is checked before the result is returned, so the
 * client gets a plain 4xx JSON error and no SSE byte was written. Once the events flow, failures
 * are `error` events. It must never touch the HTTP response: the controllers own it.
 *
 * The user's message is stored before the responder runs, in the same statement as the run
 * lease (and the new thread), or in one transaction with its attachment links: it survives any
 * failure of the response. What the turn produces is stored when it ends, with the lease's
 * release, in one statement (turn-writes.ts): a plain turn costs three round trips. The tokens
 * its model calls spent are stored in that same statement.
 *
 * With token budgets configured (USAGE_QUOTA_*), a streaming request is first admitted against
 * them (QuotaService, one statement): over budget, it is refused with `429 quota_exceeded` and
 * Retry-After before its message is stored or any SSE byte is written; admitted, its response
 * carries the remaining budget in X-Quota-* headers. Without budgets there is no such statement.
 *
 * The client is watched from the moment the request reaches the controller (the `signal` it
 * passes): one that leaves at any point — while its message is stored, before the first SSE
 * byte, mid-answer — cancels the turn like the stop button does, and so does a consumer that
 * stops iterating the events. A streaming request first takes one of the user's stream slots
 * (CHATKIT_MAX_STREAMS_PER_USER); it and the thread's run lease are given back exactly once,
 * however the request ends.
 */
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { context, trace } from '@opentelemetry/api';
import {
  isStreamingRequest,
  type ChatKitRequest,
  type ClientToolCallItem,
  type NonStreamingChatKitRequest,
  type StreamingChatKitRequest,
  type StructuredInputItem,
  type StructuredInputSubmission,
  type ThreadItem,
  type ThreadMetadata,
  type ThreadStreamEvent,
  type UserMessageInput,
  type UserMessageItem,
  type WidgetItem,
} from 'src/protocol/chatkit.schemas';
import { toWireThread } from 'src/protocol/chatkit.wire';
import { ChatKitActions } from 'src/chatkit/chatkit.actions';
import { ChatKitMetrics } from 'src/chatkit/chatkit.metrics';
import { AttachmentLinksService } from 'src/attachments/attachment-links.service';
import {
  RESPONDER,
  TRANSCRIBER,
  type Responder,
  type ResponderContext,
  type Transcriber,
} from 'src/chatkit/chatkit.ports';
import { RunStops, type WatchedRun } from 'src/chatkit/run-stops';
import { SlowReaderError } from 'src/chatkit/sse.stream';
import { StreamSlots, type StreamSlot } from 'src/chatkit/stream-slots';
import { ThreadChanges, applyThreadChange, runPipeline } from 'src/chatkit/stream.pipeline';
import { LEASE_SPAN, ThreadRunLock, type RunLease } from 'src/chatkit/thread-run.lock';
import { TurnWrites } from 'src/chatkit/turn-writes';
import { ActiveWork } from 'src/common/active-work';
import { AppException, ErrorCode } from 'src/common/app.exception';
import { newId } from 'src/common/ids';
import type { RequestContext } from 'src/common/request-context';
import { chatkitConfig, type ChatKitConfig } from 'src/config/chatkit.config';
import { ATTR, markFailed, spanningEvents, tracer, withSpan } from 'src/telemetry/tracer';
import { ThreadStore, type PageQuery, type TurnWriteSet } from 'src/threads/thread.store';
import { QuotaService, type Admission } from 'src/usage/quota.service';

/** What a request answers: one JSON document, or the events of an SSE stream. */
export type ChatKitResult =
  | { type: 'json'; value: unknown }
  | {
      type: 'stream';
      events: AsyncIterable<ThreadStreamEvent>;
      /** Response headers to send before the first event (the remaining token budget). */
      headers?: Record<string, string>;
    };

/** A streaming request that passed every check: what to send first, then what to run. */
interface PreparedStream {
  thread: ThreadMetadata;
  lease: RunLease;
  /**
   * The thread's newest items (oldest first) read with the turn's first statement, if they were,
   * and the largest `loadHistory` limit they answer (all of the thread's items: Infinity).
   */
  history?: { items: ThreadItem[]; covers: number };
  preamble: ThreadStreamEvent[];
  events: (context: ResponderContext, signal: AbortSignal) => AsyncIterable<ThreadStreamEvent>;
}

@Injectable()
export class ChatKitService {
  private readonly logger = new Logger('ChatKit');

  constructor(
    private readonly store: ThreadStore,
    private readonly lock: ThreadRunLock,
    private readonly actions: ChatKitActions,
    private readonly metrics: ChatKitMetrics,
    private readonly work: ActiveWork,
    private readonly slots: StreamSlots,
    private readonly stops: RunStops,
    @Inject(RESPONDER) private readonly responder: Responder,
    @Inject(chatkitConfig.KEY) private readonly config: ChatKitConfig,
    private readonly attachments: AttachmentLinksService,
    private readonly quota: QuotaService,
    @Optional() @Inject(TRANSCRIBER) private readonly transcriber?: Transcriber,
  ) {}

  /**
   * Answers one request: a JSON value, or the events to stream. `signal` aborts when the client
   * is gone (see clientGoneSignal) or was cut as too slow a reader; the stream then ends as if
   * the user pressed stop. The events must be iterated to their end or stopped with `return()`:
   * either way the run lease and the stream slot are given back once.
   *
   * Traced as one span, `chatkit <type>`, which for a streaming request lasts until its stream ends
   * and holds everything the stream does (the lease, the agent run).
   */
  async handle(ctx: RequestContext, request: ChatKitRequest, signal: AbortSignal): Promise<ChatKitResult> {
    const span = tracer.startSpan(`chatkit ${request.type}`, {
      attributes: { [ATTR.CHATKIT_REQUEST_TYPE]: request.type },
    });
    // Tracing off: the span records nothing, so no context to carry it (a read's hot path).
    if (!span.isRecording()) return this.handleInSpan(ctx, request, signal);
    const parent = context.active();
    let result: ChatKitResult;
    try {
      result = await context.with(trace.setSpan(parent, span), () => this.handleInSpan(ctx, request, signal));
    } catch (err) {
      markFailed(span, err);
      span.end();
      throw err;
    }
    if (result.type === 'json') {
      span.end();
      return result;
    }
    return { ...result, events: spanningEvents(span, result.events, parent) };
  }

  private async handleInSpan(
    ctx: RequestContext,
    request: ChatKitRequest,
    signal: AbortSignal,
  ): Promise<ChatKitResult> {
    ctx.metadata = request.metadata ?? {};
    if (!isStreamingRequest(request)) {
      try {
        const value = await this.answer(ctx, request);
        this.metrics.requests.inc({ type: request.type, outcome: 'ok' });
        return { type: 'json', value };
      } catch (err) {
        this.metrics.requests.inc({ type: request.type, outcome: outcomeOf(err) });
        throw err;
      }
    }
    let slot: StreamSlot | undefined;
    let admission: Admission | undefined;
    let prepared: PreparedStream;
    try {
      slot = this.slots.take(ctx);
      admission = await this.quota.admit(ctx);
      prepared = await this.prepare(ctx, request);
    } catch (err) {
      slot?.release();
      // A turn admitted but refused by a later check gives its budget hold back.
      if (admission)
        await this.quota
          .release(admission.holds)
          .catch((e: Error) => this.logger.warn(`could not give back a token budget hold: ${e.message}`));
      this.metrics.requests.inc({ type: request.type, outcome: outcomeOf(err) });
      throw err;
    }
    const holds = admission?.holds;
    const taken = slot;
    const writes = new TurnWrites();
    const { thread, lease } = prepared;
    // Once, whichever asks first: the stream's own end, or a consumer dropping the events unread.
    // The turn's writes go with the lease, in one statement; says whether they were stored.
    // Progress saves of an answer that outlives its client (CHATKIT_ON_DISCONNECT=continue) go
    // one after the other, and all before the final write.
    let saved: Promise<void> = Promise.resolve();
    const saveProgress = (set: TurnWriteSet): void => {
      saved = saved
        .then(() => this.store.finishTurn(ctx, thread.id, set, null))
        .catch((err: Error) =>
          this.logger.warn(`could not store a running answer's progress: ${err.message}`),
        );
    };
    let released: Promise<boolean> | undefined;
    const release = (): Promise<boolean> =>
      (released ??= lease
        .releaseWith(async (owner) => {
          await saved;
          const set = writes.take();
          if (holds) set.quota = { holds, spent: writes.spent };
          await this.store.finishTurn(ctx, thread.id, set, owner);
        })
        .finally(() => taken.release()));
    return {
      type: 'stream',
      events: releasedWhenStopped(
        this.stream(ctx, request.type, prepared, writes, signal, release, saveProgress),
        release,
      ),
      headers: admission?.headers,
    };
  }

  // ------------------------------------------------------------------------------ JSON requests

  private async answer(ctx: RequestContext, request: NonStreamingChatKitRequest): Promise<unknown> {
    switch (request.type) {
      case 'threads.get_by_id':
        return this.getThread(ctx, request.params.thread_id);
      case 'threads.list':
        return this.listThreads(ctx, request.params);
      case 'threads.update':
        return this.renameThread(ctx, request.params.thread_id, request.params.title);
      case 'threads.delete':
        await this.deleteThread(ctx, request.params.thread_id);
        return {};
      case 'items.list':
        return this.listItems(ctx, request.params.thread_id, request.params);
      case 'items.feedback': {
        await this.store.saveFeedback(
          ctx,
          request.params.thread_id,
          request.params.item_ids,
          request.params.kind,
        );
        this.metrics.feedback.inc({ kind: request.params.kind }, request.params.item_ids.length);
        return {};
      }
      case 'attachments.create':
        return this.attachments.create(ctx, request.params);
      case 'attachments.delete':
        await this.attachments.delete(ctx, request.params.attachment_id);
        return {};
      case 'input.transcribe': {
        if (!this.transcriber) {
          throw new AppException(
            ErrorCode.NotImplemented,
            'dictation is not configured on this server (set AGENT_TRANSCRIBE_MODEL)',
          );
        }
        const audio = Buffer.from(request.params.audio_base64, 'base64');
        return this.transcriber.transcribe(ctx, audio, request.params.mime_type);
      }
      case 'threads.sync_custom_action': {
        const thread = await this.store.loadThread(ctx, request.params.thread_id);
        const sender = await this.loadSender(ctx, thread.id, request.params.item_id);
        const handler = this.actions.get(request.params.action.type);
        if (!handler?.sync) throw unknownAction(request.params.action.type, this.actions.types);
        const changes = new ThreadChanges();
        const result = await handler.sync(
          thread,
          request.params.action,
          sender,
          this.responderContext(ctx, thread, changes),
        );
        // No stream to announce it on: a thread change made here is only saved.
        const change = changes.take();
        if (change && applyThreadChange(thread, change).stored) await this.store.saveThread(ctx, thread);
        // The reference leaves the updated widget unsaved, so a reload shows the old one; we store it.
        if (result.updated_item) await this.store.upsertItem(ctx, thread.id, result.updated_item);
        return result.updated_item ? { updated_item: result.updated_item } : {};
      }
    }
  }

  // The REST routes call these too, so both APIs answer the same thing the same way.

  async listThreads(ctx: RequestContext, query: PageQuery) {
    const page = await this.store.listThreads(ctx, query);
    return { ...page, data: page.data.map((t) => toWireThread(t)) };
  }

  async renameThread(ctx: RequestContext, threadId: string, title: string | null) {
    const thread = await this.store.loadThread(ctx, threadId);
    thread.title = title;
    await this.store.saveThread(ctx, thread);
    return toWireThread(thread);
  }

  /** A page of items, with attachment links signed afresh (stored ones may have expired). */
  async listItems(ctx: RequestContext, threadId: string, query: PageQuery) {
    const page = await this.store.listItems(ctx, threadId, query);
    return this.attachments.refresh(ctx, page);
  }

  async getThread(ctx: RequestContext, threadId: string) {
    const thread = await this.store.loadThread(ctx, threadId);
    const items = await this.store.listItems(ctx, threadId, { order: 'asc', ownerVerified: true });
    const wire = toWireThread(thread, items);
    return this.attachments.refresh(ctx, wire);
  }

  /**
   * Stops the answer running on one of the user's threads, on whichever replica streams it (see
   * RunStops). Says whether one was running; stopping a thread at rest changes nothing.
   */
  async stopThread(ctx: RequestContext, threadId: string): Promise<{ stopped: boolean }> {
    const thread = await this.store.loadThread(ctx, threadId);
    return { stopped: await this.stops.request(thread.id) };
  }

  async deleteThread(ctx: RequestContext, threadId: string): Promise<void> {
    await this.store.loadThread(ctx, threadId);
    await this.attachments.deleteForThread(ctx, threadId);
    await this.store.deleteThread(ctx, threadId);
  }

  // ------------------------------------------------------------------------------ streaming

  private async prepare(ctx: RequestContext, request: StreamingChatKitRequest): Promise<PreparedStream> {
    switch (request.type) {
      case 'threads.create': {
        this.responder.checkInput?.(request.params.input);
        const attachments = await this.resolveAttachments(ctx, request.params.input);
        const thread: ThreadMetadata = {
          id: newId('thread'),
          created_at: new Date().toISOString(),
          status: { type: 'active' },
          metadata: {},
        };
        const message = this.buildUserMessage(thread.id, request.params.input, attachments);
        let lease: RunLease;
        if (attachments.length === 0) {
          // The thread, its first message and its lease: one statement, one round trip.
          const claim = this.lock.claim(ctx.requestId);
          await withSpan(LEASE_SPAN, { [ATTR.CHATKIT_LEASE_METHOD]: 'create_turn' }, () =>
            this.store.createTurn(ctx, thread, message, claim),
          );
          lease = this.lock.held(thread.id, claim);
        } else {
          await this.store.transaction(async (m) => {
            await this.store.createThread(ctx, thread, m);
            await this.store.upsertItem(ctx, thread.id, message, m);
            await this.attachments.link(ctx, thread.id, request.params.input.attachments, m);
          });
          lease = await this.lock.acquire(thread.id, ctx.requestId);
        }
        return {
          thread,
          lease,
          // A thread made by this request holds its first message and nothing else.
          history: { items: [message], covers: Infinity },
          preamble: [
            { type: 'thread.created', thread: toWireThread(thread) },
            { type: 'thread.item.done', item: message },
          ],
          events: (rc, signal) => this.responder.respond(thread, message, rc, signal),
        };
      }
      case 'threads.add_user_message': {
        const threadId = request.params.thread_id;
        if (request.params.input.attachments.length === 0) {
          this.responder.checkInput?.(request.params.input);
          // The lease, the message (only if the lease was free) and the thread: one round trip.
          const message = this.buildUserMessage(threadId, request.params.input, []);
          const claim = this.lock.claim(ctx.requestId);
          const start = await withSpan(
            LEASE_SPAN,
            { [ATTR.CHATKIT_LEASE_METHOD]: 'open_turn' },
            async (span) => {
              const opened = await this.store.openTurn(ctx, threadId, message, claim, {
                limit: this.responder.historyLimit ?? 0,
                messages: this.responder.historyMessages,
              });
              span.setAttribute(ATTR.CHATKIT_LEASE_ACQUIRED, opened.leased);
              return opened;
            },
          );
          if (!start.leased) throw this.lock.busy(start.busyForS);
          const { thread, history } = start;
          const asked = this.responder.historyLimit ?? 0;
          // Fewer than asked for is the whole thread, unless the read stopped at the responder's
          // oldest message; then it answers that first call only.
          const whole = history && history.length < asked && this.responder.historyMessages === undefined;
          return {
            thread,
            lease: this.lock.held(thread.id, claim),
            history: history && { items: history, covers: whole ? Infinity : asked },
            preamble: [{ type: 'thread.item.done', item: message }],
            events: (rc, signal) => this.responder.respond(thread, message, rc, signal),
          };
        }
        const thread = await this.store.loadThread(ctx, threadId);
        this.responder.checkInput?.(request.params.input);
        const attachments = await this.resolveAttachments(ctx, request.params.input);
        const lease = await this.lock.acquire(thread.id, ctx.requestId);
        const message = this.buildUserMessage(thread.id, request.params.input, attachments);
        try {
          await this.store.transaction(async (m) => {
            await this.store.upsertItem(ctx, thread.id, message, m);
            await this.attachments.link(ctx, thread.id, request.params.input.attachments, m);
          });
        } catch (err) {
          await lease.release();
          throw err;
        }
        return {
          thread,
          lease,
          preamble: [{ type: 'thread.item.done', item: message }],
          events: (rc, signal) => this.responder.respond(thread, message, rc, signal),
        };
      }
      case 'threads.add_client_tool_output': {
        const thread = await this.store.loadThread(ctx, request.params.thread_id);
        return this.withLease(ctx, thread, async () => {
          const newest = (
            await this.store.listItems(ctx, thread.id, {
              limit: 20,
              order: 'desc',
              includeHidden: true,
              ownerVerified: true,
            })
          ).data;
          const call = newest[0];
          if (!call || call.type !== 'client_tool_call' || call.status !== 'pending') {
            throw new AppException(
              ErrorCode.BadRequest,
              'the thread has no pending client tool call to complete',
            );
          }
          const completed: ClientToolCallItem = {
            ...call,
            status: 'completed',
            output: request.params.result,
          };
          await this.store.transaction(async (m) => {
            await this.store.upsertItem(ctx, thread.id, completed, m);
            // Any other call still pending can never be answered now; the reference drops them too.
            for (const stale of newest.slice(1)) {
              if (stale.type === 'client_tool_call' && stale.status === 'pending')
                await this.store.deleteItem(ctx, thread.id, stale.id, m);
            }
          });
          return { preamble: [], events: (rc, signal) => this.responder.respond(thread, null, rc, signal) };
        });
      }
      case 'threads.add_structured_input': {
        const thread = await this.store.loadThread(ctx, request.params.thread_id);
        const item = await this.store.loadItem(ctx, thread.id, request.params.item_id);
        if (item.type !== 'structured_input')
          throw new AppException(ErrorCode.BadRequest, 'params.item_id: the item is not a structured input');
        if (item.status !== 'pending')
          throw new AppException(
            ErrorCode.Conflict,
            'params.item_id: the structured input was already answered',
          );
        const answered = applySubmission(item, request.params.input);
        const respond = this.responder;
        return this.withLease(ctx, thread, async () => ({
          preamble: [],
          events: async function* (rc, signal) {
            yield { type: 'thread.item.replaced', item: answered };
            yield* respond.respond(thread, null, rc, signal);
          },
        }));
      }
      case 'threads.retry_after_item': {
        const thread = await this.store.loadThread(ctx, request.params.thread_id);
        const item = await this.store.loadItem(ctx, thread.id, request.params.item_id);
        if (item.type !== 'user_message')
          throw new AppException(ErrorCode.BadRequest, 'params.item_id: retry needs a user message');
        return this.withLease(ctx, thread, async () => {
          await this.store.deleteItemsAfter(ctx, thread.id, item.id);
          return { preamble: [], events: (rc, signal) => this.responder.respond(thread, item, rc, signal) };
        });
      }
      case 'threads.custom_action': {
        const thread = await this.store.loadThread(ctx, request.params.thread_id);
        const handler = this.actions.get(request.params.action.type);
        if (!handler?.action) throw unknownAction(request.params.action.type, this.actions.types);
        const action = request.params.action;
        const respond = this.responder;
        // The sender is read under the lease: an action that changes its widget (a decision, a
        // confirmation) must see what the previous action on the thread stored, never a copy
        // read while that one was still running.
        return this.withLease(ctx, thread, async () => {
          const sender = await this.loadSender(ctx, thread.id, request.params.item_id);
          return {
            preamble: [],
            events: async function* (rc, signal) {
              const followUp = yield* handler.action!(thread, action, sender, rc, signal);
              // An action may start the agent's answer after its own events (an action webhook's
              // `start_turn`), in this stream, as after a client tool's output.
              if (followUp?.respond && !signal.aborted) yield* respond.respond(thread, null, rc, signal);
            },
          };
        });
      }
    }
  }

  /** Takes the thread's run lease, then runs the remaining checks; releases it if they fail. */
  private async withLease(
    ctx: RequestContext,
    thread: ThreadMetadata,
    rest: () => Promise<Pick<PreparedStream, 'preamble' | 'events'>>,
  ): Promise<PreparedStream> {
    const lease = await this.lock.acquire(thread.id, ctx.requestId);
    try {
      return { thread, lease, ...(await rest()) };
    } catch (err) {
      await lease.release();
      throw err;
    }
  }

  private async *stream(
    ctx: RequestContext,
    type: string,
    prepared: PreparedStream,
    writes: TurnWrites,
    signal: AbortSignal,
    release: () => Promise<boolean>,
    saveProgress: (set: TurnWriteSet) => void,
  ): AsyncGenerator<ThreadStreamEvent, void, undefined> {
    // Graceful shutdown waits for this: a stream cut by the shutdown still stores its partial answer.
    let finished!: () => void;
    void this.work.track(new Promise<void>((resolve) => (finished = resolve)));
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    const cutAsSlowReader = () => signal.reason instanceof SlowReaderError;
    this.metrics.activeStreams.inc();
    let outcome = 'failed';
    let watched: WatchedRun | undefined;
    const unfollow: (() => void)[] = [];
    try {
      yield* prepared.preamble;
      const changes = new ThreadChanges();
      const context = this.responderContext(ctx, prepared.thread, changes, writes, prepared.history);
      // The turn ends as cancelled when a stop request arrives from anywhere, and, unless answers
      // outlive their clients (CHATKIT_ON_DISCONNECT=continue), when the client leaves or is cut
      // as too slow a reader; the responder also stops when it has been silent for too long, or
      // when the events stop being read. A detached answer's events are still pulled (and
      // dropped) by the stream writer, so it runs to its end.
      watched = this.stops.watch(prepared.thread.id);
      const detachable = this.config.onDisconnect === 'continue';
      // Plain controllers fed by their sources rather than AbortSignal.any, which makes a signal
      // its sources track through weak references, twice per turn.
      let ended = watched.signal;
      if (!detachable) {
        const either = new AbortController();
        unfollow.push(follow(either, signal), follow(either, watched.signal));
        ended = either.signal;
      }
      const stop = new AbortController();
      unfollow.push(follow(stop, ended));
      outcome = yield* runPipeline(
        writes,
        prepared.thread,
        changes,
        prepared.events(context, stop.signal),
        ended,
        {
          allowCancel: this.config.allowCancel,
          idleTimeoutMs: this.config.responderIdleTimeoutMs,
          abortResponder: (reason) => stop.abort(reason),
          progress: detachable ? { everyMs: this.config.progressSaveMs, save: saveProgress } : undefined,
        },
        {
          onFirstEvent: () => this.metrics.timeToFirstEvent.observe({ type }, seconds()),
          onCancelled: () => {
            // Set here too: a consumer that stops early never sees the pipeline return.
            outcome = 'cancelled';
            if (!cutAsSlowReader()) this.metrics.cancellations.inc({ type });
          },
        },
      );
      // The turn's items are stored before the client sees the stream end; if they could not
      // be, it is told so while it still listens.
      if (outcome === 'completed' && !(await release())) {
        outcome = 'failed';
        yield { type: 'error', code: 'stream.error', allow_retry: true };
      }
      if (cutAsSlowReader()) {
        outcome = 'slow_reader';
        this.metrics.slowReaderCuts.inc({ type });
        this.logger.warn(
          `cut a stream whose client read nothing for ${this.config.slowReaderTimeoutMs} ms with its buffer full`,
        );
      }
    } catch (err) {
      this.logger.error(`stream broke: ${(err as Error).message}`);
    } finally {
      for (const stopFollowing of unfollow) stopFollowing();
      watched?.done();
      await release();
      this.metrics.activeStreams.dec();
      this.metrics.streamDuration.observe({ type }, seconds());
      this.metrics.requests.inc({ type, outcome });
      // The request's span (this runs in it, see handle).
      trace.getActiveSpan()?.setAttribute(ATTR.CHATKIT_OUTCOME, outcome);
      finished();
    }
  }

  /** In a stream (`writes` given), saved items are stored with the rest of the turn when it ends. */
  responderContext(
    ctx: RequestContext,
    thread: ThreadMetadata,
    changes: ThreadChanges,
    writes?: TurnWrites,
    history?: PreparedStream['history'],
  ): ResponderContext {
    // Read ahead with the turn's first statement: served once, to the first call it covers (a
    // later call may follow writes of this turn, so it reads).
    let ahead = history;
    return {
      updateThread: (change) => changes.record(change),
      request: ctx,
      loadHistory: (limit) => {
        const items = ahead;
        ahead = undefined;
        if (items && limit <= items.covers) return Promise.resolve(items.items.slice(-Math.max(1, limit)));
        // A call after this turn's own items (a responder run after an action's events) sees
        // them too, though they are stored only when the turn ends.
        if (writes?.pending)
          return this.store.recentItems(ctx, thread.id, limit).then((read) => writes.overlay(read, limit));
        return this.store.recentItems(ctx, thread.id, limit);
      },
      saveItem: writes
        ? (item) => Promise.resolve(writes.upsert(item))
        : (item) => this.store.upsertItem(ctx, thread.id, item),
      generateId: (kind) => newId(kind),
      now: () => new Date().toISOString(),
      recordUsage: writes
        ? (usage) => writes.recordUsage(usage)
        : (usage) => {
            // Outside a stream (a sync custom action) there is no final write to ride on.
            const own = new TurnWrites();
            own.recordUsage(usage);
            void this.store
              .finishTurn(ctx, thread.id, own.take(), null)
              .catch((e: Error) => this.logger.warn(`could not store token usage: ${e.message}`));
          },
    };
  }

  // ------------------------------------------------------------------------------ helpers

  private async resolveAttachments(ctx: RequestContext, input: UserMessageInput) {
    if (!input.attachments.length) return [];
    return this.attachments.resolve(ctx, input.attachments);
  }

  private buildUserMessage(
    threadId: string,
    input: UserMessageInput,
    attachments: UserMessageItem['attachments'],
  ): UserMessageItem {
    return {
      type: 'user_message',
      id: newId('message'),
      thread_id: threadId,
      created_at: new Date().toISOString(),
      content: input.content,
      attachments: attachments.map((a) => ({ ...a, thread_id: threadId, upload_descriptor: null })),
      quoted_text: input.quoted_text,
      inference_options: input.inference_options,
    };
  }

  private async loadSender(
    ctx: RequestContext,
    threadId: string,
    itemId: string | null | undefined,
  ): Promise<WidgetItem | null> {
    if (!itemId) return null;
    const item = await this.store.loadItem(ctx, threadId, itemId);
    // The reference answers this with an error event inside a stream; a 400 before it opens is clearer.
    if (item.type !== 'widget')
      throw new AppException(
        ErrorCode.BadRequest,
        'params.item_id: actions can only be sent by widget items',
      );
    return item;
  }
}

/**
 * `events`, with `release` also run when the consumer gives them up before pulling the first
 * one: a generator's `finally` runs only once its body has started.
 */
/** Aborts `target` with `source`'s reason once `source` aborts; returns what stops that. */
function follow(target: AbortController, source: AbortSignal): () => void {
  if (source.aborted) {
    target.abort(source.reason);
    return () => undefined;
  }
  const onAbort = (): void => target.abort(source.reason);
  source.addEventListener('abort', onAbort, { once: true });
  return () => source.removeEventListener('abort', onAbort);
}

function releasedWhenStopped<T>(
  events: AsyncGenerator<T, void, undefined>,
  release: () => Promise<unknown>,
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => events.next(),
      return: async () => {
        const result = await events.return();
        await release();
        return result;
      },
    }),
  };
}

/** Fact sheet §5.8: how a structured-input submission is applied to the pending item. */
export function applySubmission(
  item: StructuredInputItem,
  submission: StructuredInputSubmission,
): StructuredInputItem {
  const answers = submission.answers ?? {};
  return {
    ...item,
    status: submission.status,
    inputs: item.inputs.map((input) => {
      const answer = answers[input.id];
      if (submission.status === 'skipped' || !answer || answer.skipped || !answer.values?.length) {
        return { ...input, answer: { values: [], skipped: true } };
      }
      const values =
        input.type === 'multiple_choice' && !input.multiple ? answer.values.slice(0, 1) : answer.values;
      return { ...input, answer: { values, skipped: false } };
    }),
  };
}

function unknownAction(type: string, known: string[]): AppException {
  return new AppException(
    ErrorCode.BadRequest,
    `params.action.type: no handler for action "${type}"${known.length ? ` (known: ${known.join(', ')})` : ''}`,
  );
}

function outcomeOf(err: unknown): string {
  if (err instanceof AppException) return err.status >= 500 ? 'error' : err.code;
  return 'error';
}
