/**
 * Tool calls waiting for approval across replicas (each the real server in its own process, on one
 * PostgreSQL server): nothing about the call is held in memory, so a card shown by one replica is
 * answered by another, after the first has stopped; two clicks on two replicas at once run the
 * call once; a click after the decision is refused everywhere.
 *
 * Needs a PostgreSQL server: registered only when DATABASE_URL is set (jest.config.js).
 */
import { rmSync } from 'node:fs';
import { parseSse, userInput, widgetItem } from 'test/support/chatkit-client';
import { FakeOpenAI, textTurn, toolCallTurn } from 'test/support/fake-openai';
import { startReplica, type Replica } from 'test/support/replica';
import { requestLine, startLoopbackApi, writeToolsFile, type Hit } from 'test/support/tool-servers';

const suffix = `${process.pid}${Date.now().toString(36)}`;

async function post(
  replica: Replica,
  userId: string,
  request: unknown,
): Promise<{ status: number; events: any[] }> {
  const res = await fetch(`${replica.url}/chatkit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': userId },
    body: JSON.stringify(request),
  });
  const raw = await res.text();
  return {
    status: res.status,
    events: (res.headers.get('content-type') ?? '').startsWith('text/event-stream') ? parseSse(raw) : [],
  };
}

describe('approval of tool calls across replicas', () => {
  const hits: Hit[] = [];
  let api: Awaited<ReturnType<typeof startLoopbackApi>>;
  let fake: FakeOpenAI;
  let a: Replica;
  let b: Replica;
  let dir: string;

  beforeAll(async () => {
    api = await startLoopbackApi(hits, (_hit, res) => {
      // Slow enough for two clicks to overlap.
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ refunded: true }));
      }, 500);
    });
    fake = await FakeOpenAI.start();
    const tools = writeToolsFile('tools-approval-replicas-', {
      http_tools: [
        {
          name: 'refund_order',
          description: 'Refund an order',
          parameters: {
            type: 'object',
            properties: { order_id: { type: 'string' } },
            required: ['order_id'],
          },
          method: 'POST',
          url: `http://127.0.0.1:${api.port}/orders/{order_id}/refund`,
          allow_private_network: true,
          require_approval: true,
        },
      ],
    });
    dir = tools.dir;
    const env = {
      DATABASE_URL: process.env.DATABASE_URL!,
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_API: 'responses',
      AGENT_MODEL: 'gpt-test',
      RAG_SEED_DOCS: 'false',
      CHATKIT_MAX_STREAMS_PER_USER: '0',
      ATTACHMENTS_CLEANUP_INTERVAL_S: '0',
      AGENT_TOOLS_FILE: tools.file,
    };
    // One after the other: the first applies any missing migration.
    a = await startReplica('a', env);
    b = await startReplica('b', env);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await fake?.close();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A thread on `replica` in which the model asked to refund `orderId`; returns the card. */
  async function cardOn(replica: Replica, user: string, orderId: string): Promise<any> {
    fake.enqueue(
      toolCallTurn('refund_order', { order_id: orderId }, { callId: `call_${orderId}` }),
      textTurn('I asked for your approval.'),
      textTurn('A title'),
    );
    const res = await post(replica, user, {
      type: 'threads.create',
      params: { input: userInput('Refund it') },
    });
    expect(res.status).toBe(200);
    const card = widgetItem(res.events);
    expect(card).toBeDefined();
    return card;
  }

  const approve = (replica: Replica, user: string, card: any) =>
    post(replica, user, {
      type: 'threads.custom_action',
      params: { thread_id: card.thread_id, item_id: card.id, action: { type: 'tool.approve', payload: {} } },
    });

  it('runs a call once when it is approved on two replicas at once, and refuses a later click', async () => {
    const user = `approver-${suffix}`;
    const card = await cardOn(a, user, 'R-1');
    expect(hits).toEqual([]);
    fake.enqueue(textTurn('Refunded.'));
    const [onA, onB] = await Promise.all([approve(a, user, card), approve(b, user, card)]);
    expect(hits.map(requestLine)).toEqual(['POST /orders/R-1/refund']);
    const ran = [onA, onB].filter((r) => r.events.some((e) => e.type === 'thread.item.replaced'));
    expect(ran).toHaveLength(1);
    const other = ran[0] === onA ? onB : onA;
    expect(other.status === 409 || other.events.some((e) => e.type === 'error')).toBe(true);

    const later = await approve(b, user, card);
    expect(later.events.find((e) => e.type === 'error')).toMatchObject({
      message: expect.stringContaining('already approved'),
    });
    expect(hits).toHaveLength(1);
    expect(fake.pendingModelTurns).toBe(0);
  }, 60_000);

  it('a card shown by a replica that has stopped is answered by another', async () => {
    const user = `restart-${suffix}`;
    const card = await cardOn(a, user, 'R-2');
    await a.stop();
    hits.length = 0;
    fake.enqueue(textTurn('Refunded R-2.'));
    const res = await approve(b, user, card);
    expect(res.status).toBe(200);
    expect(hits.map(requestLine)).toEqual(['POST /orders/R-2/refund']);
    expect(res.events.filter((e) => e.type === 'thread.item.done').at(-1).item).toMatchObject({
      type: 'assistant_message',
      content: [expect.objectContaining({ text: 'Refunded R-2.' })],
    });
    expect(fake.pendingModelTurns).toBe(0);
  }, 60_000);
});
