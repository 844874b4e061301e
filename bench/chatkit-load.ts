/**
 * Load benchmark for the ChatKit endpoint (not a test). Drives threads.create (SSE, read to the
 * end), threads.add_user_message (SSE) and items.list at a chosen concurrency against a running
 * server, and prints requests/s and p50/p99 per operation, next to GET /health/live measured in
 * the same run as the baseline (numbers are reported as ratios against it).
 *
 *   npx ts-node -r tsconfig-paths/register bench/chatkit-load.ts --url http://127.0.0.1:3000 \
 *     --concurrency 10 --iterations 20
 *
 * Auth: the server must run with AUTH_DEV_MODE=true (each virtual user sends X-User-ID), or pass
 * --token <jwt> to send one bearer token for all users. One token is one user: above five concurrent
 * streams, start the server with CHATKIT_MAX_STREAMS_PER_USER=0 (or a cap above --concurrency).
 */
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:3000' },
    concurrency: { type: 'string', default: '10' },
    iterations: { type: 'string', default: '20' },
    token: { type: 'string' },
  },
});

const base = values.url!;
const concurrency = Number(values.concurrency);
const iterations = Number(values.iterations);

type Op = 'health.live' | 'threads.create' | 'threads.add_user_message' | 'items.list';
const samples: Record<Op, number[]> = {
  'health.live': [],
  'threads.create': [],
  'threads.add_user_message': [],
  'items.list': [],
};
let failures = 0;

function headers(user: string): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    ...(values.token ? { Authorization: `Bearer ${values.token}` } : { 'X-User-ID': user }),
  };
}

async function timed<T>(op: Op, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await fn();
  samples[op].push(performance.now() - start);
  return result;
}

async function post(user: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}/chatkit`, {
    method: 'POST',
    headers: headers(user),
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) failures++;
  return { status: res.status, text };
}

const input = (text: string) => ({
  content: [{ type: 'input_text', text }],
  attachments: [],
  inference_options: {},
});

async function virtualUser(n: number): Promise<void> {
  const user = `bench-${process.pid}-${n}`;
  for (let i = 0; i < iterations; i++) {
    await timed('health.live', async () => (await fetch(`${base}/health/live`)).text());
    const created = await timed('threads.create', () =>
      post(user, { type: 'threads.create', params: { input: input(`question ${i}`) } }),
    );
    const first = created.text.split('\n\n').find((f) => f.startsWith('data: '));
    const threadId = first
      ? (JSON.parse(first.slice(6)) as { thread?: { id: string } }).thread?.id
      : undefined;
    if (!threadId) continue;
    await timed('threads.add_user_message', () =>
      post(user, {
        type: 'threads.add_user_message',
        params: { thread_id: threadId, input: input('and then?') },
      }),
    );
    await timed('items.list', () => post(user, { type: 'items.list', params: { thread_id: threadId } }));
  }
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, i) => virtualUser(i)));
  const seconds = (performance.now() - started) / 1000;
  const baseline = [...samples['health.live']].sort((a, b) => a - b);
  const baseP50 = percentile(baseline, 50);
  console.log(
    `concurrency=${concurrency} iterations=${iterations} wall=${seconds.toFixed(1)}s failures=${failures}`,
  );
  console.log('operation                  count   req/s    p50 ms   p99 ms   p50/baseline');
  for (const [op, list] of Object.entries(samples)) {
    const sorted = [...list].sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    console.log(
      `${op.padEnd(26)} ${String(sorted.length).padStart(5)} ${(sorted.length / seconds).toFixed(1).padStart(7)} ${p50.toFixed(1).padStart(8)} ${percentile(sorted, 99).toFixed(1).padStart(8)} ${(p50 / baseP50).toFixed(1).padStart(10)}x`,
    );
  }
  if (failures) process.exitCode = 1;
}

void main();
