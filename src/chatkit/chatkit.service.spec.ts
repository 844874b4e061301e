/**
 * ChatKitService without HTTP: results and event streams consumed directly, with an in-memory
 * store, a counting run lease and a scripted responder standing in for the database and model.
 */
import type { Repository } from 'typeorm';
import { RunStops } from 'src/chatkit/run-stops';
import type { ThreadRunEntity } from 'src/chatkit/thread-run.entity';
import type { DatabaseConfig } from 'src/config/database.config';
import { ChatKitActions } from 'src/chatkit/chatkit.actions';
import { ChatKitMetrics } from 'src/chatkit/chatkit.metrics';
import type { Responder } from 'src/chatkit/chatkit.ports';
import { ChatKitService } from 'src/chatkit/chatkit.service';
import { StreamSlots } from 'src/chatkit/stream-slots';
import { CANCELLED_MARKER } from 'src/chatkit/stream.pipeline';
import type { ThreadRunLock } from 'src/chatkit/thread-run.lock';
import type { AttachmentLinksService } from 'src/attachments/attachment-links.service';
import { ActiveWork } from 'src/common/active-work';
import type { RequestContext } from 'src/common/request-context';
import type { ChatKitConfig } from 'src/config/chatkit.config';
import { MetricsService } from 'src/metrics/metrics.service';
import {
  ChatKitRequestSchema,
  type ChatKitRequest,
  type ThreadItem,
  type ThreadMetadata,
  type ThreadStreamEvent,
  type UserMessageItem,
} from 'src/protocol/chatkit.schemas';
import type { ThreadStore, TurnWriteSet } from 'src/threads/thread.store';
import type { QuotaService } from 'src/usage/quota.service';

/** Threads and items in memory, with the store methods the protocol uses for these requests. */
class MemoryStore {
  readonly threads = new Map<string, ThreadMetadata>();
  readonly items = new Map<string, ThreadItem[]>();

  transaction<T>(work: (manager: unknown) => Promise<T>): Promise<T> {
    return work(undefined);
  }
  async createThread(_ctx: RequestContext, thread: ThreadMetadata): Promise<void> {
    this.threads.set(thread.id, structuredClone(thread));
    this.items.set(thread.id, []);
  }
  async saveThread(_ctx: RequestContext, thread: ThreadMetadata): Promise<void> {
    this.threads.set(thread.id, structuredClone(thread));
  }
  async listThreads() {
    return { data: [...this.threads.values()], has_more: false, after: null };
  }
  async upsertItem(_ctx: RequestContext, threadId: string, item: ThreadItem): Promise<void> {
    const items = this.items.get(threadId)!;
    const at = items.findIndex((i) => i.id === item.id);
    if (at >= 0) items[at] = structuredClone(item);
    else items.push(structuredClone(item));
  }
  async deleteItem(_ctx: RequestContext, threadId: string, itemId: string): Promise<void> {
    this.items.set(
      threadId,
      this.items.get(threadId)!.filter((i) => i.id !== itemId),
    );
  }
  async recentItems(_ctx: RequestContext, threadId: string): Promise<ThreadItem[]> {
    return this.items.get(threadId) ?? [];
  }
  async createTurn(ctx: RequestContext, thread: ThreadMetadata, message: ThreadItem): Promise<void> {
    await this.createThread(ctx, thread);
    await this.upsertItem(ctx, thread.id, message);
  }
  async finishTurn(ctx: RequestContext, threadId: string, writes: TurnWriteSet): Promise<void> {
    for (const item of writes.upserts) await this.upsertItem(ctx, threadId, item);
    for (const id of writes.deletes) await this.deleteItem(ctx, threadId, id);
    if (writes.thread) await this.saveThread(ctx, writes.thread);
  }
}

/** A scripted turn: what the responder yields, given the thread, the signal and a way to wait. */
type Script = (thread: ThreadMetadata, signal: AbortSignal) => AsyncIterable<ThreadStreamEvent>;

const ctx = (): RequestContext => ({ userId: 'user_1', isAdmin: false, requestId: 'req_1', metadata: {} });

const config = {
  allowCancel: true,
  responderIdleTimeoutMs: 0,
  heartbeatMs: 0,
  streamBufferBytes: 65_536,
  slowReaderTimeoutMs: 30_000,
  maxStreamsPerUser: 1,
} as ChatKitConfig;

// One registry for the file: the metrics register their names once.
const metrics = new ChatKitMetrics(new MetricsService({ enabled: true, prefix: 'spec_' }));

function setup(script: Script) {
  const store = new MemoryStore();
  const leases = { acquired: 0, released: 0 };
  const lease = () => ({
    release: async () => void leases.released++,
    releaseWith: async (write: (owner: string) => Promise<void>) => {
      leases.released++;
      await write('owner');
      return true;
    },
  });
  const lock = {
    acquire: async () => {
      leases.acquired++;
      return lease();
    },
    claim: () => ({ owner: 'owner', ttlMs: 30_000 }),
    held: () => {
      leases.acquired++;
      return lease();
    },
  } as unknown as ThreadRunLock;
  const responder: Responder = {
    respond: (thread, _input, _context, signal) => script(thread, signal),
  };
  const slots = new StreamSlots(config);
  const service = new ChatKitService(
    store as unknown as ThreadStore,
    lock,
    new ChatKitActions(),
    metrics,
    new ActiveWork(),
    slots,
    // A single-connection database: stops stay in this process, nothing is queried for watching.
    new RunStops({} as Repository<ThreadRunEntity>, { poolSize: 1 } as DatabaseConfig),
    responder,
    config,
    {} as AttachmentLinksService,
    // No token budgets: every turn is admitted without a statement.
    { admit: () => Promise.resolve(undefined) } as unknown as QuotaService,
  );
  const create = ChatKitRequestSchema.parse({
    type: 'threads.create',
    params: { input: { content: [{ type: 'input_text', text: 'Hello' }] } },
  });
  return { store, leases, slots, service, create };
}

const assistant = (thread: ThreadMetadata): ThreadItem => ({
  type: 'assistant_message',
  id: 'message_answer',
  thread_id: thread.id,
  created_at: new Date().toISOString(),
  content: [{ type: 'output_text', text: '', annotations: [] }],
});

const delta = (text: string): ThreadStreamEvent => ({
  type: 'thread.item.updated',
  item_id: 'message_answer',
  update: { type: 'assistant_message.content_part.text_delta', content_index: 0, delta: text },
});

async function streamOf(service: ChatKitService, request: ChatKitRequest) {
  const result = await service.handle(ctx(), request, new AbortController().signal);
  if (result.type !== 'stream') throw new Error(`expected a stream, got ${result.type}`);
  return result.events[Symbol.asyncIterator]();
}

/** The thread's stored items, by type. */
const storedTypes = (store: MemoryStore) => [...store.items.values()][0].map((i) => i.type);

describe('ChatKitService', () => {
  it('answers a JSON request with its value', async () => {
    const { service, store } = setup(async function* () {});
    await store.createThread(ctx(), {
      id: 'thread_1',
      created_at: '2026-01-01T00:00:00.000Z',
      title: 'Kept',
      status: { type: 'active' },
      metadata: {},
    });
    const result = await service.handle(
      ctx(),
      ChatKitRequestSchema.parse({ type: 'threads.list', params: {} }),
      new AbortController().signal,
    );
    expect(result).toEqual({
      type: 'json',
      value: expect.objectContaining({ data: [expect.objectContaining({ id: 'thread_1', title: 'Kept' })] }),
    });
  });

  it('streams the events of a turn in order and stores what was done', async () => {
    const { service, store, leases, slots, create } = setup(async function* (thread) {
      yield { type: 'thread.item.added', item: assistant(thread) };
      yield delta('Hi there');
      yield {
        type: 'thread.item.done',
        item: { ...assistant(thread), content: [{ type: 'output_text', text: 'Hi there', annotations: [] }] },
      } as ThreadStreamEvent;
    });
    const events: ThreadStreamEvent[] = [];
    const iterator = await streamOf(service, create);
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) events.push(next.value);

    expect(events.map((e) => e.type)).toEqual([
      'thread.created',
      'thread.item.done',
      'stream_options',
      'thread.item.added',
      'thread.item.updated',
      'thread.item.done',
    ]);
    expect(storedTypes(store)).toEqual(['user_message', 'assistant_message']);
    expect(leases).toEqual({ acquired: 1, released: 1 });
    // The user's only slot is free again.
    expect(() => slots.take(ctx())).not.toThrow();
  });

  it('a consumer that stops early cancels the turn: partial answer, marker, lease and slot given back once', async () => {
    let responderSignal: AbortSignal | undefined;
    const { service, store, leases, slots, create } = setup(async function* (thread, signal) {
      responderSignal = signal;
      yield { type: 'thread.item.added', item: assistant(thread) };
      yield delta('Half an ans');
      // The rest of the answer never comes; only the abort ends the wait.
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    });
    const iterator = await streamOf(service, create);
    for (;;) {
      const next = await iterator.next();
      if (next.done) throw new Error('the stream ended on its own');
      if (next.value.type === 'thread.item.updated') break;
    }
    await iterator.return!();
    await iterator.return!();

    expect(responderSignal?.aborted).toBe(true);
    const items = [...store.items.values()][0];
    expect(items.map((i) => i.type)).toEqual(['user_message', 'assistant_message', 'sdk_hidden_context']);
    expect(items[1]).toMatchObject({ content: [{ text: 'Half an ans' }] });
    expect(items[2]).toMatchObject({ content: CANCELLED_MARKER });
    expect(leases).toEqual({ acquired: 1, released: 1 });
    expect(() => slots.take(ctx())).not.toThrow();
  });

  it('gives the lease and slot back when the events are dropped before the first one is read', async () => {
    let asked = false;
    const { service, leases, slots, create } = setup(async function* () {
      asked = true;
      yield* [];
    });
    const iterator = await streamOf(service, create);
    await iterator.return!();
    expect(asked).toBe(false);
    expect(leases).toEqual({ acquired: 1, released: 1 });
    expect(() => slots.take(ctx())).not.toThrow();
  });

  it('a client gone before the stream starts: no model call, the message kept, the lease released', async () => {
    let asked = false;
    const { service, store, leases, create } = setup(async function* () {
      asked = true;
      yield* [];
    });
    const gone = new AbortController();
    gone.abort(new Error('client disconnected'));
    const result = await service.handle(ctx(), create, gone.signal);
    if (result.type !== 'stream') throw new Error('expected a stream');
    for await (const event of result.events) void event;
    expect(asked).toBe(false);
    expect(storedTypes(store)).toEqual(['user_message', 'sdk_hidden_context']);
    expect(leases).toEqual({ acquired: 1, released: 1 });
  });

  it('a responder that throws mid-answer ends with an error event and keeps the message', async () => {
    const { service, store, leases, create } = setup(async function* (thread) {
      yield { type: 'thread.item.added', item: assistant(thread) };
      yield delta('Before the fall');
      throw new Error('the model connection broke');
    });
    const events: ThreadStreamEvent[] = [];
    const iterator = await streamOf(service, create);
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) events.push(next.value);

    expect(events.at(-1)).toEqual({ type: 'error', code: 'stream.error', allow_retry: true });
    expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
    const items = [...store.items.values()][0];
    expect(items.map((i) => i.type)).toEqual(['user_message', 'assistant_message']);
    expect((items[0] as UserMessageItem).content).toEqual([{ type: 'input_text', text: 'Hello' }]);
    expect(leases).toEqual({ acquired: 1, released: 1 });
  });

  it('refuses a second stream for a user at the cap before anything is stored', async () => {
    const { service, store, create } = setup(async function* () {
      yield* [];
    });
    await streamOf(service, create);
    await expect(service.handle(ctx(), create, new AbortController().signal)).rejects.toMatchObject({
      code: 'too_many_streams',
    });
    expect(store.threads.size).toBe(1);
  });
});
