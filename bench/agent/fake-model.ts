/**
 * The model side of the agent benchmarks, run as its own process so its timers and buffers do not
 * share an event loop (or a resident set) with the load generator or the gateway: the test suite's
 * fake OpenAI server answering every model request with the same streamed text.
 *
 * By default (time to first token) the answer is three deltas, each written after
 * BENCH_DELTA_DELAY_MS. With BENCH_ANSWER_BYTES set (the slow-reader benchmark), a streamed request
 * is answered with that many bytes of text in deltas of BENCH_DELTA_BYTES, written as fast as the
 * gateway takes them, unless its question carries `[bench:short]`; one-shot requests (the thread
 * title) always get the short answer.
 *
 * A parent may also `configure` the streamed answer at run time (the turn-cost benchmark changes it
 * between phases): that many deltas, each written after that delay, optionally stalling (holding
 * the connection without writing) after some of them; and ask for `streams`, how many streamed
 * requests are still open (neither finished nor closed by the gateway) since the last `report`.
 *
 * Talks to its parent over IPC only: `ready` with the base URL, then on `report` what it did for
 * every streamed request, keyed by the marker in its last user message. It must never listen
 * beyond 127.0.0.1.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { FakeOpenAI, textTurn, type ModelTurn, type RecordedRequest } from 'test/support/fake-openai';

export interface ModelTiming {
  marker: string;
  receivedAt: number;
  firstDeltaAt: number;
  /** Text deltas the fake handed to its socket, and whether it wrote the whole answer. */
  deltasWritten: number;
  completed: boolean;
  /** The request's JSON body, when the report asked for bodies. */
  body?: unknown;
}

export interface StreamedAnswer {
  deltas: number;
  deltaDelayMs: number;
  /** Stop writing after this many deltas and hold the connection until the gateway hangs up. */
  stallAfterDeltas?: number;
}

export type FromFakeModel =
  | { type: 'ready'; baseURL: string }
  | { type: 'report'; timings: ModelTiming[] }
  | { type: 'configured' }
  | { type: 'streams'; open: number; closedByGateway: number; completed: number };
export type ToFakeModel =
  | { type: 'report'; bodies?: boolean }
  | { type: 'stop' }
  | { type: 'streams' }
  | ({ type: 'configure' } & StreamedAnswer);

const ROOT = join(__dirname, '..', '..');
const MARKER = /\[bench:([\w-]+)\]/;

/** Forks this file as the fake model; `env` takes the BENCH_* settings described above. */
export function startFakeModel(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; baseURL: string }> {
  const child = fork(__filename, [], {
    cwd: ROOT,
    execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
    env: { ...process.env, TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'), ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`fake model exited with ${code}`)));
    child.once('message', (message: FromFakeModel) => {
      if (message.type === 'ready') resolve({ child, baseURL: message.baseURL });
    });
  });
}

function markerOf(request: RecordedRequest): string | undefined {
  const input = (request.body as { input?: unknown }).input;
  if (!Array.isArray(input)) return undefined;
  for (let i = input.length - 1; i >= 0; i--) {
    const item = input[i] as { role?: string; content?: unknown };
    if (item.role !== 'user') continue;
    const match = MARKER.exec(JSON.stringify(item.content));
    if (match) return match[1];
  }
  return undefined;
}

/** `bytes` of plain prose (ASCII, so bytes = characters), cut into deltas of `deltaBytes`. */
function longTurn(bytes: number, deltaBytes: number): ModelTurn {
  const sentence = 'The quick brown fox jumps over the lazy dog while the answer keeps going. ';
  const text = sentence.repeat(Math.ceil(bytes / sentence.length)).slice(0, bytes);
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += deltaBytes) chunks.push(text.slice(i, i + deltaBytes));
  return textTurn(text, { chunks });
}

/** `deltas` one-word deltas, each written after `deltaDelayMs`. */
function configuredTurn(answer: StreamedAnswer): ModelTurn {
  const chunks = Array.from({ length: answer.deltas }, (_, i) => `${i ? ' ' : ''}word${i + 1}`);
  const turn = textTurn(chunks.join(''), { chunks, deltaDelayMs: answer.deltaDelayMs });
  if (answer.stallAfterDeltas !== undefined)
    turn.interrupt = { afterDeltas: answer.stallAfterDeltas, mode: 'stall' };
  return turn;
}

async function main(): Promise<void> {
  let configured: ModelTurn | undefined;
  const deltaDelayMs = Number(process.env.BENCH_DELTA_DELAY_MS ?? '50');
  // Three deltas: the first arrives deltaDelayMs after the request, the answer ends 3× later.
  const short = textTurn('The answer is here.', { chunks: ['The answer', ' is', ' here.'], deltaDelayMs });
  const answerBytes = Number(process.env.BENCH_ANSWER_BYTES ?? '0');
  const long =
    answerBytes > 0 ? longTurn(answerBytes, Number(process.env.BENCH_DELTA_BYTES ?? '1024')) : undefined;
  const fake = await FakeOpenAI.start({
    defaultModelTurn: (request) => {
      if (!request.stream) return short;
      if (configured) return configured;
      return long && markerOf(request) !== 'short' ? long : short;
    },
  });
  const send = (message: FromFakeModel): void => void process.send!(message);
  process.on('message', (message: ToFakeModel) => {
    if (message.type === 'report') {
      const timings: ModelTiming[] = [];
      for (const request of fake.requests) {
        const marker = request.stream ? markerOf(request) : undefined;
        if (marker && request.firstDeltaAt !== undefined) {
          timings.push({
            marker,
            receivedAt: request.receivedAt,
            firstDeltaAt: request.firstDeltaAt,
            deltasWritten: request.deltasWritten,
            completed: request.completedAt !== undefined,
            ...(message.bodies ? { body: request.body } : {}),
          });
        }
      }
      // Forget what was reported so memory stays flat across levels.
      fake.requests.length = 0;
      send({ type: 'report', timings });
    } else if (message.type === 'configure') {
      configured = configuredTurn(message);
      send({ type: 'configured' });
    } else if (message.type === 'streams') {
      const streamed = fake.requests.filter((r) => r.stream);
      const completed = streamed.filter((r) => r.completedAt !== undefined).length;
      const closedByGateway = streamed.filter((r) => r.clientClosed).length;
      send({
        type: 'streams',
        open: streamed.length - completed - closedByGateway,
        closedByGateway,
        completed,
      });
    } else {
      void fake.close().then(() => process.exit(0));
    }
  });
  send({ type: 'ready', baseURL: fake.baseURL });
}

if (require.main === module) void main();
