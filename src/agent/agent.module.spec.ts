/**
 * AgentModule wiring in a Nest testing module: which responder RESPONDER resolves to, that the
 * module reaches the attachments and the knowledge base through the modules it imports (here
 * replaced by stand-ins exporting the same classes), and that it registers the search tool.
 */
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Test, type TestingModule } from '@nestjs/testing';
import { z } from 'zod';
import { AgentModule } from 'src/agent/agent.module';
import { AgentService } from 'src/agent/agent.service';
import type { AttachmentReader } from 'src/agent/history.converter';
import { OfflineResponder, type KnowledgeSearch } from 'src/agent/offline.responder';
import { AttachmentsModule } from 'src/attachments/attachments.module';
import { AttachmentReaderService } from 'src/attachments/attachment-reader.service';
import type { ThreadMetadata, ThreadStreamEvent, UserMessageItem } from 'src/protocol/chatkit.schemas';
import {
  RESPONDER,
  TRANSCRIBER,
  type Responder,
  type ResponderContext,
  type Transcriber,
} from 'src/chatkit/chatkit.ports';
import { agentConfig } from 'src/config/agent.config';
import { metricsConfig } from 'src/config/metrics.config';
import { extensionsConfig } from 'src/config/extensions.config';
import { MetricsModule } from 'src/metrics/metrics.module';
import { RagModule } from 'src/rag/rag.module';
import { SearchService } from 'src/rag/rag.search.service';
import { KnowledgeSearchTool } from 'src/rag/rag.tool';
import { FakeOpenAI, textTurn, toolCallTurn, transcriptionTurn } from 'test/support/fake-openai';
import { appConfig } from 'src/config/app.config';

const ENV_KEYS = [
  'OPENAI_API_KEY',
  'OPENAI_BASE_URL',
  'OPENAI_API',
  'AGENT_MODEL',
  'AGENT_TRACING',
  'METRICS_PREFIX',
];

const searched: string[] = [];

/** Stands in for RagModule: exports the search service and the tool the agent registers. */
@Module({
  providers: [
    {
      provide: SearchService,
      useValue: {
        search: (query) => {
          searched.push(query);
          return Promise.resolve([
            { text: 'Refunds take 5 days.', title: 'Refunds', source: 'refunds.md', score: 1 },
          ]);
        },
      } satisfies KnowledgeSearch,
    },
    {
      provide: KnowledgeSearchTool,
      useValue: {
        description: 'Search the knowledge base.',
        parameters: z.object({ query: z.string() }),
        execute: (query: string) => Promise.resolve(`Passages about ${query}: refunds take 5 days.`),
        annotate: () => [],
      } satisfies Pick<KnowledgeSearchTool, 'description' | 'parameters' | 'execute' | 'annotate'>,
    },
  ],
  exports: [SearchService, KnowledgeSearchTool],
})
class KnowledgeStandIn {}

/** Stands in for AttachmentsModule: exports the service the agent reads attachment bytes from. */
@Module({
  providers: [
    {
      provide: AttachmentReaderService,
      useValue: {
        read: () => Promise.resolve({ mimeType: 'text/plain', data: Buffer.from('order #42, paid by card') }),
      } satisfies AttachmentReader,
    },
  ],
  exports: [AttachmentReaderService],
})
class AttachmentsStandIn {}

/** Like ChatKitModule.register({ imports: [AgentModule] }): a module that only imports the ports. */
@Module({ imports: [AgentModule] })
class ProtocolModule {}

let fake: FakeOpenAI;
let saved: NodeJS.ProcessEnv;

beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(() => fake.close());
beforeEach(() => {
  saved = { ...process.env };
  for (const key of ENV_KEYS) delete process.env[key];
  process.env.METRICS_PREFIX = 'module_spec_';
  fake.reset();
  searched.length = 0;
});
afterEach(() => {
  process.env = saved;
});

async function compile(env: Record<string, string>): Promise<TestingModule> {
  Object.assign(process.env, env);
  const app = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot({
        isGlobal: true,
        ignoreEnvFile: true,
        load: [agentConfig, metricsConfig, appConfig, extensionsConfig],
      }),
      MetricsModule,
      AgentModule,
      ProtocolModule,
    ],
  })
    .overrideModule(RagModule)
    .useModule(KnowledgeStandIn)
    .overrideModule(AttachmentsModule)
    .useModule(AttachmentsStandIn)
    .compile();
  // Runs onModuleInit, where the agent module registers the search tool.
  return app.init();
}

function context(): ResponderContext {
  let ids = 0;
  const question: UserMessageItem = {
    id: 'msg_q',
    thread_id: 'thr_1',
    created_at: '2026-01-01T00:00:00.000Z',
    type: 'user_message',
    content: [{ type: 'input_text', text: 'How long do refunds take?' }],
    attachments: [{ id: 'atc_1', name: 'order.txt', mime_type: 'text/plain', type: 'file' }],
    inference_options: {},
  };
  return {
    request: { userId: 'user_1', isAdmin: false, requestId: 'req_1', metadata: {} },
    loadHistory: () => Promise.resolve([question]),
    saveItem: () => Promise.resolve(),
    updateThread: () => undefined,
    generateId: (kind) => `${kind}_${++ids}`,
    now: () => '2026-01-01T00:00:00.000Z',
  };
}

async function answer(responder: Responder, ctx: ResponderContext): Promise<ThreadStreamEvent[]> {
  const thread: ThreadMetadata = {
    id: 'thr_1',
    created_at: '2026-01-01T00:00:00.000Z',
    title: 'Refunds',
    status: { type: 'active' },
    metadata: {},
  };
  const [input] = (await ctx.loadHistory(1)) as UserMessageItem[];
  const events: ThreadStreamEvent[] = [];
  for await (const e of responder.respond(thread, input, ctx, new AbortController().signal)) events.push(e);
  return events;
}

describe('AgentModule', () => {
  it('answers with the offline responder and the knowledge-base search when no model is configured', async () => {
    const app = await compile({});
    try {
      const responder = app.get<Responder>(RESPONDER, { strict: false });
      expect(responder).toBeInstanceOf(OfflineResponder);
      expect(app.select(ProtocolModule).get(RESPONDER)).toBe(responder);
      // No transcription model: the protocol layer answers input.transcribe with 501.
      expect(app.get(TRANSCRIBER, { strict: false })).toBeNull();

      const events = await answer(responder, context());

      expect(searched).toEqual(['How long do refunds take?']);
      const done = events.at(-1);
      expect(done).toMatchObject({
        type: 'thread.item.done',
        item: { content: [{ annotations: [{ source: { type: 'file', filename: 'refunds.md' } }] }] },
      });
      expect(fake.requests).toHaveLength(0);
    } finally {
      await app.close();
    }
  });

  it('answers with the agent, the knowledge-base tool and the attachments service when a model is configured', async () => {
    const app = await compile({
      OPENAI_BASE_URL: fake.baseURL,
      AGENT_MODEL: 'gpt-module',
      AGENT_TRANSCRIBE_MODEL: 'whisper-test',
    });
    try {
      const responder = app.get<Responder>(RESPONDER, { strict: false });
      expect(responder).toBe(app.get(AgentService));
      expect(app.select(ProtocolModule).get(RESPONDER)).toBe(responder);
      fake.enqueue(
        toolCallTurn('search_knowledge_base', { query: 'refunds' }),
        textTurn('Refunds take 5 days.'),
      );

      const events = await answer(responder, context());

      expect(events.map((e) => e.type)).toContain('progress_update');
      expect(events.at(-1)).toMatchObject({
        type: 'thread.item.done',
        item: { type: 'assistant_message', content: [{ text: 'Refunds take 5 days.' }] },
      });
      const first = JSON.stringify(fake.requests[0].body);
      expect(fake.requests[0].body).toMatchObject({ model: 'gpt-module' });
      // The built-in instructions mention the search tool because it is registered.
      expect(first).toContain('call the search_knowledge_base tool');
      expect(first).toContain('order #42, paid by card');
      // No key configured: the client sends a placeholder, never a real environment key.
      expect(fake.requests[0].headers.authorization).toBe('Bearer not-needed');
      expect(JSON.stringify(fake.requests[1].body)).toContain('Passages about refunds');

      fake.enqueueTranscription(transcriptionTurn('hello'));
      const transcriber = app.get<Transcriber>(TRANSCRIBER, { strict: false });
      await expect(
        transcriber.transcribe(context().request, Buffer.from('audio'), 'audio/ogg'),
      ).resolves.toEqual({
        text: 'hello',
      });
    } finally {
      await app.close();
    }
  });
});
