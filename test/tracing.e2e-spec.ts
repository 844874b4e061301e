/**
 * OpenTelemetry tracing on the real app, with the SDK set up as in production but exporting to
 * memory: one ChatKit turn with a knowledge-base tool call yields the span tree of
 * docs/observability.md, with the right parents and attributes and none of the conversation in
 * it; an incoming `traceparent` is continued; log lines carry the ids of the request's trace.
 */
import { randomBytes } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import { SpanKind, SpanStatusCode, context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { isWrapped } from '@opentelemetry/instrumentation';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { KNOWLEDGE_BASE_TOOL } from 'src/agent/prompt';
import { LOG_DESTINATION } from 'src/common/logging.module';
import { chatkit, userInput } from 'test/support/chatkit-client';
import { errorTurn, FakeOpenAI, textTurn, toolCallTurn } from 'test/support/fake-openai';
import { LogCapture } from 'test/support/log-capture';
import { startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';
import { startTestTracing, type TestTracing } from 'test/support/tracing';

const RUN = `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const ms = (span: ReadableSpan, at: 'startTime' | 'endTime') => span[at][0] * 1e3 + span[at][1] / 1e6;

describe('tracing', () => {
  let tracing: TestTracing;
  let fake: FakeOpenAI;
  let app: TestApp;
  const log = new LogCapture();

  beforeAll(async () => {
    tracing = startTestTracing();
    fake = await FakeOpenAI.start();
    app = await startApp(
      {
        OPENAI_BASE_URL: fake.baseURL,
        OPENAI_API_KEY: 'test',
        OPENAI_API: 'responses',
        AGENT_MODEL: 'gpt-test',
        AGENT_TITLE_MODEL: 'gpt-title',
        CHATKIT_HEARTBEAT_MS: '0',
        RAG_SEED_DOCS: 'false',
        RAG_EMBEDDINGS_MODEL: undefined,
        LOG_LEVEL: 'info',
      },
      (builder) => builder.overrideProvider(LOG_DESTINATION).useValue(log),
    );
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
    await tracing?.stop();
    // Node's http is shared with the test files that run after this one: it must be left unpatched.
    expect(isWrapped(http.Server.prototype.emit)).toBe(false);
    expect(isWrapped(http.request)).toBe(false);
    expect(diagnosticsChannel.hasSubscribers('undici:request:create')).toBe(false);
  });

  /** The spans of one trace once `ready` finds what it waits for (spans end as responses finish). */
  async function traceOf(
    traceId: () => string | undefined,
    ready: (spans: ReadableSpan[]) => boolean,
  ): Promise<ReadableSpan[]> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const id = traceId();
      const spans = id ? tracing.spans().filter((s) => s.spanContext().traceId === id) : [];
      if ((id && ready(spans)) || Date.now() > deadline) return spans;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('shows one add_user_message turn with a tool call as a tree of spans, without its text', async () => {
    const org = `org-${RUN}`;
    const admin = await tokenFor(uniqueUser('kb-admin'), { org, roles: ['admin'] });
    const ingest = await fetch(`${app.url}/api/documents`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        source: `handbook/quokka-${RUN}.md`,
        title: 'Quokka care',
        content: `# Quokka care\n\nEvery keeper gets nine days of quokka${RUN} leave each year.\n`,
      }),
    });
    expect(ingest.status).toBe(201);

    const user = uniqueUser('tracer');
    fake.enqueue(textTurn(`First answer ${RUN}.`), textTurn('Quokkas'));
    const created = await chatkit(
      app,
      user,
      { type: 'threads.create', params: { input: userInput(`Hello about quokkas ${RUN}`) } },
      { org },
    );
    expect(created.status).toBe(200);
    const threadId = created.events.find((e) => e.type === 'thread.created').thread.id as string;

    const question = `How many days of quokka${RUN} leave do keepers get?`;
    const answer = `Nine days of leave, secretanswer${RUN} [1].`;
    fake.enqueue(
      toolCallTurn(
        KNOWLEDGE_BASE_TOOL,
        { query: `quokka${RUN}` },
        { usage: { inputTokens: 210, outputTokens: 12 } },
      ),
      textTurn(answer, {
        usage: { inputTokens: 480, outputTokens: 9, cachedTokens: 128, reasoningTokens: 4 },
      }),
    );
    tracing.reset();
    const turn = await chatkit(
      app,
      user,
      { type: 'threads.add_user_message', params: { thread_id: threadId, input: userInput(question) } },
      { org },
    );
    expect(turn.status).toBe(200);
    expect(
      turn.events.some((e) => e.type === 'thread.item.done' && e.item.type === 'assistant_message'),
    ).toBe(true);

    const spans = await traceOf(
      () => named(tracing.spans(), 'chatkit threads.add_user_message')[0]?.spanContext().traceId,
      (all) => all.some((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === '/chatkit'),
    );
    const [request] = named(spans, 'chatkit threads.add_user_message');
    const server = spans.find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === '/chatkit')!;
    expect(server).toBeDefined();
    // The server span holds the request (through express's route handler span).
    expect(ancestorsOf(spans, request)).toContain(server);
    expect(request.attributes).toMatchObject({
      'chatkit.request.type': 'threads.add_user_message',
      'chatkit.outcome': 'completed',
    });
    // The stream's whole life is in the request's span: it ends after the agent run.
    const [lease] = named(spans, 'chatkit run lease');
    const [run] = named(spans, 'agent run');
    expect(parentOf(lease)).toBe(idOf(request));
    expect(lease.attributes).toMatchObject({
      'chatkit.lease.method': 'open_turn',
      'chatkit.lease.acquired': true,
    });
    expect(childrenOf(spans, lease).some((s) => s.name.startsWith('pg.query'))).toBe(true);
    expect(parentOf(run)).toBe(idOf(request));
    expect(run.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'Assistant',
    });
    expect(ms(request, 'endTime')).toBeGreaterThanOrEqual(ms(run, 'endTime'));

    // Two model calls (the tool call, then the answer) and the tool call between them, all in the run.
    const models = named(spans, 'chat gpt-test').sort((a, b) => ms(a, 'startTime') - ms(b, 'startTime'));
    expect(models).toHaveLength(2);
    const [tool] = named(spans, `execute_tool ${KNOWLEDGE_BASE_TOOL}`);
    for (const span of [...models, tool]) expect(parentOf(span)).toBe(idOf(run));
    expect(ms(models[0], 'endTime')).toBeLessThanOrEqual(ms(tool, 'startTime'));
    expect(ms(tool, 'endTime')).toBeLessThanOrEqual(ms(models[1], 'startTime'));
    for (const model of models) {
      expect(model.kind).toBe(SpanKind.CLIENT);
      expect(model.attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-test',
      });
      expect(model.attributes['gen_ai.response.time_to_first_chunk']).toEqual(expect.any(Number));
      // The model request itself (undici's client span) is made inside the model call's span.
      expect(
        childrenOf(spans, model).some(
          (s) => s.kind === SpanKind.CLIENT && s.attributes['http.request.method'] === 'POST',
        ),
      ).toBe(true);
    }
    expect(models[0].attributes).toMatchObject({
      'gen_ai.usage.input_tokens': 210,
      'gen_ai.usage.output_tokens': 12,
    });
    expect(models[1].attributes).toMatchObject({
      'gen_ai.usage.input_tokens': 480,
      'gen_ai.usage.output_tokens': 9,
      'gen_ai.usage.cache_read.input_tokens': 128,
      'gen_ai.usage.reasoning.output_tokens': 4,
    });
    expect(tool.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': KNOWLEDGE_BASE_TOOL,
      'chatkit.tool.outcome': 'ok',
    });

    // The knowledge-base search runs in the tool call, with its mode and result count, and its SQL.
    const [search] = named(spans, 'knowledge_base search');
    expect(parentOf(search)).toBe(idOf(tool));
    expect(search.attributes).toMatchObject({
      'chatkit.rag.requested_mode': 'hybrid',
      'chatkit.rag.mode': 'fulltext',
      'chatkit.rag.result_count': 1,
    });
    expect(childrenOf(spans, search).some((s) => s.name.startsWith('pg.query'))).toBe(true);

    // Nothing of the conversation anywhere: not the question, the answer, the tool's query or
    // what it found, nor the user's token.
    const recorded = JSON.stringify(
      spans.map((s) => ({
        name: s.name,
        attributes: s.attributes,
        events: s.events,
        status: s.status,
        links: s.links,
      })),
    );
    for (const secret of [
      RUN,
      'quokka',
      'Nine days',
      'secretanswer',
      'keeper',
      await tokenFor(user, { org }),
    ])
      expect(recorded).not.toContain(secret);
  });

  it('continues the trace of an incoming traceparent, and puts its ids in the log lines', async () => {
    const traceId = randomBytes(16).toString('hex');
    const parentId = randomBytes(8).toString('hex');
    // Sent untraced, so this process's own fetch instrumentation leaves the header as it is.
    const res = await context.with(suppressTracing(context.active()), () =>
      app.fetch('/chatkit', {
        method: 'POST',
        user: uniqueUser('traced'),
        json: { type: 'threads.list', params: {} },
        headers: { traceparent: `00-${traceId}-${parentId}-01` },
      }),
    );
    expect(res.status).toBe(200);
    const spans = await traceOf(
      () => traceId,
      (all) =>
        all.some((s) => s.kind === SpanKind.SERVER) && all.some((s) => s.name === 'chatkit threads.list'),
    );
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(server).toBeDefined();
    expect(parentOf(server)).toBe(parentId);
    expect(server.parentSpanContext?.isRemote).toBe(true);
    const [request] = named(spans, 'chatkit threads.list');
    expect(ancestorsOf(spans, request)).toContain(server);

    const lines = await log.forRequest(res.headers.get('x-request-id')!);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ trace_id: traceId, span_id: idOf(server), trace_flags: '01' });
  });

  it('marks a failed model call by its kind only, and logs the failure with the ids of its span', async () => {
    const user = uniqueUser('failing');
    const message = `Please quote quokka${RUN} back to me`;
    const upstream = `upstream says nothing about secret${RUN}`;
    fake.enqueue(errorTurn(400, { message: upstream }));
    tracing.reset();
    const turn = await chatkit(app, user, { type: 'threads.create', params: { input: userInput(message) } });
    expect(turn.status).toBe(200);
    expect(turn.events.some((e) => e.type === 'error')).toBe(true);

    const spans = await traceOf(
      () => named(tracing.spans(), 'chatkit threads.create')[0]?.spanContext().traceId,
      (all) => all.some((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === '/chatkit'),
    );
    const [request] = named(spans, 'chatkit threads.create');
    const [run] = named(spans, 'agent run');
    const [model] = named(spans, 'chat gpt-test');
    expect(parentOf(run)).toBe(idOf(request));
    expect(parentOf(model)).toBe(idOf(run));
    for (const span of [model, run]) {
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes['error.type']).toEqual(expect.any(String));
    }
    expect(request.attributes['chatkit.outcome']).toBe('failed');
    const recorded = JSON.stringify(
      spans.map((s) => ({ attributes: s.attributes, events: s.events, status: s.status })),
    );
    for (const secret of [RUN, 'quokka', 'upstream']) expect(recorded).not.toContain(secret);

    // The agent's warning was written inside the agent run's span; the request's line carries the
    // server span.
    const lines = await log.forRequest(turn.headers.get('x-request-id')!);
    const warning = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('Agent run failed'));
    expect(warning).toMatchObject({ trace_id: run.spanContext().traceId, span_id: idOf(run) });
    const server = spans.find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === '/chatkit')!;
    const completion = lines.find((l) => l.res?.statusCode === 200);
    expect(completion).toMatchObject({ trace_id: server.spanContext().traceId, span_id: idOf(server) });
  });

  it('traces attachment storage by operation and size, never by file name or signature', async () => {
    const user = uniqueUser('uploader');
    const name = `holiday-quokka-${RUN}.txt`;
    const bytes = Buffer.from(`quokka notes ${RUN}\n`);
    const created = await chatkit(app, user, {
      type: 'attachments.create',
      params: { name, size: bytes.length, mime_type: 'text/plain' },
    });
    expect(created.status).toBe(200);
    const descriptor = created.json.upload_descriptor as {
      url: string;
      method: string;
      headers?: Record<string, string>;
    };
    const signature = new URL(descriptor.url).searchParams.get('sig')!;
    const uploaded = await fetch(descriptor.url, {
      method: descriptor.method,
      headers: { 'Content-Type': 'application/octet-stream', ...descriptor.headers },
      body: bytes,
    });
    expect(uploaded.status).toBe(200);
    const uploadPath = new URL(descriptor.url).pathname;
    const spans = await traceOf(
      () =>
        tracing
          .spans()
          .find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === uploadPath)
          ?.spanContext().traceId,
      (all) => all.some((s) => s.name === 'attachment_storage put'),
    );
    const [put] = named(spans, 'attachment_storage put');
    expect(put.attributes).toMatchObject({
      'chatkit.storage.driver': 'postgres',
      'chatkit.storage.operation': 'put',
      'chatkit.storage.bytes': bytes.length,
    });
    const server = spans.find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === uploadPath)!;
    // The query keeps its keys and loses its values: the signature never reaches a span.
    expect(String(server.attributes['url.query'])).toMatch(/^(?=.*exp=REDACTED)(?=.*sig=REDACTED)[^]*$/);
    const recorded = JSON.stringify(
      tracing.spans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })),
    );
    for (const secret of [name, RUN, signature]) expect(recorded).not.toContain(secret);
  });
});

function named(spans: ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((s) => s.name === name);
}

function childrenOf(spans: ReadableSpan[], parent: ReadableSpan): ReadableSpan[] {
  return spans.filter((s) => parentOf(s) === idOf(parent));
}

function ancestorsOf(spans: ReadableSpan[], span: ReadableSpan): ReadableSpan[] {
  const byId = new Map(spans.map((s) => [idOf(s), s]));
  const ancestors: ReadableSpan[] = [];
  for (let at = byId.get(parentOf(span) ?? ''); at; at = byId.get(parentOf(at) ?? '')) ancestors.push(at);
  return ancestors;
}
