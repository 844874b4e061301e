/**
 * The model side of the time-to-first-token benchmark, run as its own process so its timers do
 * not share an event loop with the load generator: the test suite's fake OpenAI server answering
 * every model request with the same streamed text, each delta written after a fixed delay.
 *
 * Talks to its parent over IPC only: `ready` with the base URL, then on `report` the model's own
 * time to first delta for every streamed request, keyed by the marker in its last user message.
 * It must never listen beyond 127.0.0.1.
 */
import { FakeOpenAI, textTurn, type RecordedRequest } from 'test/support/fake-openai';

export interface ModelTiming {
  marker: string;
  receivedAt: number;
  firstDeltaAt: number;
}

export type FromFakeModel = { type: 'ready'; baseURL: string } | { type: 'report'; timings: ModelTiming[] };
export type ToFakeModel = { type: 'report' } | { type: 'stop' };

const MARKER = /\[bench:([\w-]+)\]/;

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

async function main(): Promise<void> {
  const deltaDelayMs = Number(process.env.BENCH_DELTA_DELAY_MS ?? '50');
  const fake = await FakeOpenAI.start({
    // Three deltas: the first arrives deltaDelayMs after the request, the answer ends 3× later.
    defaultModelTurn: textTurn('The answer is here.', {
      chunks: ['The answer', ' is', ' here.'],
      deltaDelayMs,
    }),
  });
  const send = (message: FromFakeModel): void => void process.send!(message);
  process.on('message', (message: ToFakeModel) => {
    if (message.type === 'report') {
      const timings: ModelTiming[] = [];
      for (const request of fake.requests) {
        const marker = request.stream ? markerOf(request) : undefined;
        if (marker && request.firstDeltaAt !== undefined) {
          timings.push({ marker, receivedAt: request.receivedAt, firstDeltaAt: request.firstDeltaAt });
        }
      }
      // Forget what was reported so memory stays flat across levels.
      fake.requests.length = 0;
      send({ type: 'report', timings });
    } else {
      void fake.close().then(() => process.exit(0));
    }
  });
  send({ type: 'ready', baseURL: fake.baseURL });
}

void main();
