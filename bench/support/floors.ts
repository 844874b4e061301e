/**
 * The floors of the turn-cost benchmark, each run as its own process (forked, IPC only) so its CPU
 * time is its own:
 *
 * - `sdk`: one Agents SDK `Runner` with an `OpenAIProvider` (Responses API, tracing off, as the
 *   gateway builds it) streaming runs of a tool-less agent from the fake model and reading every
 *   event: what any gateway built on the SDK pays per turn before it stores or sends anything;
 * - `sdk-history`: the same run with what the gateway gives the SDK on an add turn of the
 *   benchmark: its last ten messages (as the gateway converts them: user text, completed assistant
 *   messages), the question last, and an abort signal, all as the run's input. The SDK copies and
 *   tracks every input item on every run, so this is its own cost for that turn, not the gateway's;
 * - `sdk-history-split`: the same input as the gateway now hands it over: the question as the
 *   run's input, the earlier messages put in front of each model call by a callModelInputFilter
 *   (splitHistory and withEarlierItems of src/agent/history.converter.ts). The model gets the same
 *   request; the difference from `sdk-history` is what that spares the SDK;
 * - `openai`: the bare `openai` client streaming the same response and reading every event;
 * - `http`: a bare `node:http` server that reads a JSON body and answers with a canned ChatKit-like
 *   SSE stream of about twenty events; the parent drives it and reads its CPU from /proc.
 *
 * `sdk` and `openai` measure themselves with process.cpuUsage() (user + system, all threads, the
 * same clock as /proc) over `ops` runs at `concurrency` after `warmup` unmeasured ones.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import OpenAI from 'openai';
import {
  Agent,
  OpenAIProvider,
  Runner,
  setTraceProcessors,
  setTracingDisabled,
  type AgentInputItem,
} from '@openai/agents';
import { splitHistory, withEarlierItems } from 'src/agent/history.converter';

export type FloorKind = 'sdk' | 'sdk-history' | 'sdk-history-split' | 'openai' | 'http';

interface FloorRun {
  baseURL: string;
  ops: number;
  concurrency: number;
  warmup: number;
}

type FromFloor =
  { type: 'ready'; port?: number } | { type: 'measured'; cpuMs: number; ops: number; wallMs: number };

const ROOT = join(__dirname, '..', '..');
const MODEL = 'gpt-4.1-mini';

/** Runs one client-side floor in a child process; CPU ms per run. */
export async function measureClientFloor(kind: Exclude<FloorKind, 'http'>, run: FloorRun): Promise<number> {
  const child = fork(__filename, [kind, JSON.stringify(run)], {
    cwd: ROOT,
    execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
    env: { ...process.env, TS_NODE_PROJECT: join(ROOT, 'tsconfig.json') },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  const [message] = (await once(child, 'message')) as [FromFloor];
  await exited;
  if (message.type !== 'measured') throw new Error(`${kind} floor failed`);
  return message.cpuMs / message.ops;
}

/** Starts the bare node:http floor server; its pid and URL. */
export async function startHttpFloor(): Promise<{ pid: number; url: string; stop(): Promise<void> }> {
  const child = fork(__filename, ['http'], {
    cwd: ROOT,
    execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
    env: { ...process.env, TS_NODE_PROJECT: join(ROOT, 'tsconfig.json') },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [message] = (await once(child, 'message')) as [FromFloor];
  if (message.type !== 'ready' || !message.port) throw new Error('http floor did not start');
  return {
    pid: child.pid!,
    url: `http://127.0.0.1:${message.port}`,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}

/** Runs `ops` calls of `one` with `concurrency` in flight. */
async function drive(ops: number, concurrency: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ops) await one(next++);
    }),
  );
}

async function measure(run: FloorRun, one: (i: number) => Promise<void>): Promise<void> {
  await drive(run.warmup, run.concurrency, one);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await drive(run.ops, run.concurrency, one);
  const used = process.cpuUsage(cpu);
  process.send!(
    {
      type: 'measured',
      cpuMs: (used.user + used.system) / 1000,
      ops: run.ops,
      wallMs: performance.now() - started,
    } satisfies FromFloor,
    () => process.exit(0),
  );
}

/**
 * The input the gateway builds for a question on a thread with more turns than it sends: its last
 * AGENT_HISTORY_MESSAGES (10) messages, the question last (history.converter.ts shapes).
 */
export function historyInput(i: number): AgentInputItem[] {
  const answer = Array.from({ length: 12 }, (_, w) => `word${w + 1}`).join(' ');
  const items: AgentInputItem[] = [];
  for (let turn = 4; turn >= 0; turn--) {
    items.push({ role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: answer }] });
    items.push({ role: 'user', content: `and then ${i - turn}?` });
  }
  return items;
}

type SdkFloorKind = Extract<FloorKind, 'sdk' | 'sdk-history' | 'sdk-history-split'>;

async function sdkFloor(run: FloorRun, kind: SdkFloorKind): Promise<void> {
  setTraceProcessors([]);
  setTracingDisabled(true);
  const client = new OpenAI({ apiKey: 'bench', baseURL: run.baseURL, maxRetries: 0 });
  const runner = new Runner({
    modelProvider: new OpenAIProvider({ openAIClient: client, useResponses: true }),
    tracingDisabled: true,
  });
  const agent = new Agent({ name: 'Assistant', instructions: 'You are a helpful assistant.', model: MODEL });
  /** The run of operation `i`, its input handed over as `kind` says. */
  const start = (i: number) => {
    if (kind === 'sdk') return runner.run(agent, `question ${i}`, { stream: true });
    const signal = new AbortController().signal;
    if (kind === 'sdk-history') return runner.run(agent, historyInput(i), { stream: true, signal });
    const { earlier, last } = splitHistory(historyInput(i));
    return runner.run(agent, last, { stream: true, signal, callModelInputFilter: withEarlierItems(earlier) });
  };
  await measure(run, async (i) => {
    const result = await start(i);
    for await (const event of result) void event;
    await result.completed;
  });
}

async function openaiFloor(run: FloorRun): Promise<void> {
  const client = new OpenAI({ apiKey: 'bench', baseURL: run.baseURL, maxRetries: 0 });
  await measure(run, async (i) => {
    const stream = await client.responses.create({ model: MODEL, input: `question ${i}`, stream: true });
    for await (const event of stream) void event;
  });
}

/** About twenty events shaped like a ChatKit answer: the thread, the user message, twelve deltas. */
function cannedAnswer(): string {
  const at = new Date().toISOString();
  const thread = { id: 'thr_floor', title: null, created_at: at, status: { type: 'active' }, metadata: {} };
  const message = (id: string, type: string, content: unknown[]) => ({
    id,
    thread_id: thread.id,
    created_at: at,
    type,
    content,
  });
  const events: unknown[] = [
    { type: 'thread.created', thread: { ...thread, items: { data: [], has_more: false, after: null } } },
    {
      type: 'thread.item.added',
      item: message('msg_user', 'user_message', [{ type: 'input_text', text: 'hi' }]),
    },
    {
      type: 'thread.item.done',
      item: message('msg_user', 'user_message', [{ type: 'input_text', text: 'hi' }]),
    },
    { type: 'stream_options', stream_options: { allow_cancel: true } },
    { type: 'thread.item.added', item: message('msg_floor', 'assistant_message', []) },
    {
      type: 'thread.item.updated',
      item_id: 'msg_floor',
      update: {
        type: 'assistant_message.content_part.added',
        content_index: 0,
        content: { type: 'output_text', text: '', annotations: [] },
      },
    },
  ];
  const words: string[] = [];
  for (let i = 0; i < 12; i++) {
    const delta = `${i ? ' ' : ''}word${i + 1}`;
    words.push(delta);
    events.push({
      type: 'thread.item.updated',
      item_id: 'msg_floor',
      update: { type: 'assistant_message.content_part.text_delta', content_index: 0, delta },
    });
  }
  const text = { type: 'output_text', text: words.join(''), annotations: [] };
  events.push(
    {
      type: 'thread.item.updated',
      item_id: 'msg_floor',
      update: { type: 'assistant_message.content_part.done', content_index: 0, content: text },
    },
    { type: 'thread.item.done', item: message('msg_floor', 'assistant_message', [text]) },
  );
  return events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('');
}

async function httpFloor(): Promise<void> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' });
      // One write per event, as a streaming server does, with the serialisation on each request.
      for (const frame of cannedAnswer().split(/(?<=\n\n)/)) res.write(frame);
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.on('SIGTERM', () => process.exit(0));
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port } satisfies FromFloor);
}

if (require.main === module) {
  const kind = process.argv[2] as FloorKind;
  const run = kind === 'http' ? undefined : (JSON.parse(process.argv[3]) as FloorRun);
  const done = kind === 'http' ? httpFloor() : kind === 'openai' ? openaiFloor(run!) : sdkFloor(run!, kind);
  done.catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
