/**
 * Time-to-first-token overhead of the gateway (a benchmark, not a test). Starts the fake model
 * server (bench/agent/fake-model.ts, its own process, a fixed delay before each streamed delta)
 * and the gateway (src/main.ts under ts-node, its own process, pointed at the fake), then at each
 * concurrency level drives `threads.add_user_message` streams and measures, per stream:
 *
 *   overhead = (client-observed time to the first text delta)
 *            - (the fake model's own time to its first delta: firstDeltaAt - receivedAt)
 *
 * i.e. everything the gateway adds: HTTP, auth, validation, the run lease, storing the message,
 * loading history, building the prompt, the model request, parsing, mapping and the SSE write.
 * Prints p50/p99 per level and the ratio against the 1-stream level measured in the same run.
 *
 *   npx ts-node --transpile-only -r tsconfig-paths/register bench/agent/ttft.ts \
 *     [--levels 1,50,200] [--samples 60] [--delta-delay-ms 50]
 *
 * Uses the PostgreSQL in DATABASE_URL when set, else the app's embedded one (one connection, so
 * high concurrency queues on it). Everything listens on 127.0.0.1 and stops when done.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  startFakeModel,
  type FromFakeModel,
  type ModelTiming,
  type ToFakeModel,
} from 'bench/agent/fake-model';
import { now, percentile, streamTurn as stream, userInput as input } from 'bench/support/chatkit-client';

const { values } = parseArgs({
  options: {
    levels: { type: 'string', default: '1,50,200' },
    samples: { type: 'string', default: '60' },
    'delta-delay-ms': { type: 'string', default: '50' },
  },
});
const levels = values.levels!.split(',').map(Number);
const samplesPerLevel = Number(values.samples);
const deltaDelayMs = values['delta-delay-ms']!;

const ROOT = join(__dirname, '..', '..');
const TS_NODE = ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'];

// ------------------------------------------------------------------------------ processes

function modelTimings(child: ChildProcess): Promise<ModelTiming[]> {
  return new Promise((resolve) => {
    const onMessage = (message: FromFakeModel): void => {
      if (message.type !== 'report') return;
      child.off('message', onMessage);
      resolve(message.timings);
    };
    child.on('message', onMessage);
    child.send({ type: 'report' } satisfies ToFakeModel);
  });
}

async function startGateway(baseURL: string): Promise<{ child: ChildProcess; url: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    AUTH_DEV_MODE: 'true',
    RATE_LIMIT_ENABLED: 'false',
    METRICS_ENABLED: 'true',
    OPENAI_BASE_URL: baseURL,
    OPENAI_API_KEY: 'bench',
    OPENAI_API: 'responses',
    AGENT_MAX_RETRIES: '0',
    RAG_SEED_DOCS: 'false',
    RAG_EMBEDDINGS_MODEL: '',
    // A throw-away embedded database when DATABASE_URL is unset.
    EMBEDDED_DATA_DIR: 'memory://',
    TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'),
  };
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the gateway there when it exits.
  const profile = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : [];
  const child = spawn(process.execPath, [...profile, ...TS_NODE, join(ROOT, 'src', 'main.ts')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${output}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /listening on (http:\/\/[\w.]+:\d+)/.exec(output);
      if (match) resolve(match[1]);
    });
  });
  // Logs after start-up are not needed; keep the pipe drained.
  child.stdout!.resume();
  for (let i = 0; i < 200; i++) {
    const ready = await fetch(`${url}/health/ready`).catch(() => undefined);
    if (ready?.status === 200) return { child, url };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('gateway never became ready');
}

// ------------------------------------------------------------------------------ one stream

interface Sample {
  marker: string;
  clientTtftMs: number;
}

// ------------------------------------------------------------------------------ statistics

interface LevelResult {
  level: number;
  streams: number;
  failures: number;
  wallS: number;
  overhead: number[];
  client: number[];
  model: number[];
}

async function runLevel(
  url: string,
  fakeModel: ChildProcess,
  level: number,
  run: string,
): Promise<LevelResult> {
  const iterations = Math.max(3, Math.ceil(samplesPerLevel / level));
  const users = Array.from({ length: level }, (_, i) => `bench-${run}-${level}-${i}`);
  let failures = 0;
  let firstError: string | undefined;

  // Warm-up, not measured: one thread per user (the first answer also triggers the title call).
  const threads = await Promise.all(
    users.map(async (user) => {
      const created = await stream(url, user, {
        type: 'threads.create',
        params: { input: input(`[bench:warmup-${user}] hello`) },
      });
      if (!created.threadId || created.error) throw new Error(`warm-up failed: ${created.error}`);
      return created.threadId;
    }),
  );
  await modelTimings(fakeModel);

  const samples: Sample[] = [];
  const started = now();
  await Promise.all(
    users.map(async (user, u) => {
      for (let i = 0; i < iterations; i++) {
        const marker = `${level}-${u}-${i}`;
        const result = await stream(url, user, {
          type: 'threads.add_user_message',
          params: { thread_id: threads[u], input: input(`[bench:${marker}] question ${i}`) },
        });
        if (result.ttftMs === undefined || result.error) {
          failures++;
          firstError ??= result.error ?? 'no text delta';
        } else samples.push({ marker, clientTtftMs: result.ttftMs });
      }
    }),
  );
  const wallS = (now() - started) / 1000;

  const byMarker = new Map((await modelTimings(fakeModel)).map((t) => [t.marker, t]));
  const overhead: number[] = [];
  const client: number[] = [];
  const model: number[] = [];
  for (const sample of samples) {
    const timing = byMarker.get(sample.marker);
    if (!timing) {
      failures++;
      continue;
    }
    const modelTtft = timing.firstDeltaAt - timing.receivedAt;
    model.push(modelTtft);
    client.push(sample.clientTtftMs);
    overhead.push(sample.clientTtftMs - modelTtft);
  }
  if (firstError) console.error(`level ${level}: first failure: ${firstError}`);
  const sort = (list: number[]) => list.sort((a, b) => a - b);
  return {
    level,
    streams: users.length * iterations,
    failures,
    wallS,
    overhead: sort(overhead),
    client: sort(client),
    model: sort(model),
  };
}

async function main(): Promise<void> {
  const database = process.env.DATABASE_URL
    ? 'PostgreSQL from DATABASE_URL'
    : 'embedded PostgreSQL (PGlite, one connection)';
  const fakeModel = await startFakeModel({ BENCH_DELTA_DELAY_MS: deltaDelayMs });
  let gateway: { child: ChildProcess; url: string } | undefined;
  try {
    gateway = await startGateway(fakeModel.baseURL);
    const run = Date.now().toString(36);
    console.log(
      `database: ${database}; model first-delta delay: ${deltaDelayMs} ms; levels: ${levels.join(', ')}`,
    );
    // Unmeasured: let the gateway compile its hot paths and fill its connection pool first.
    for (let i = 0; i < 20; i++) {
      const warm = await stream(gateway.url, `bench-${run}-warmup`, {
        type: 'threads.create',
        params: { input: input(`[bench:warmup-${i}] hello`) },
      });
      if (warm.error) throw new Error(`warm-up failed: ${warm.error}`);
    }
    await modelTimings(fakeModel.child);
    const results: LevelResult[] = [];
    for (const level of levels) {
      const result = await runLevel(gateway.url, fakeModel.child, level, run);
      results.push(result);
      console.log(
        `level ${level}: ${result.streams} streams, ${result.failures} failed, ${result.wallS.toFixed(1)} s`,
      );
    }
    const base = results[0];
    const baseP50 = percentile(base.overhead, 50);
    const baseP99 = percentile(base.overhead, 99);
    const f = (n: number) => n.toFixed(1);
    console.log('');
    console.log(
      '| concurrent streams | samples | model TTFT p50 ms | client TTFT p50 ms | overhead p50 ms | overhead p99 ms | p50 / 1-stream | p99 / 1-stream |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of results) {
      const p50 = percentile(r.overhead, 50);
      const p99 = percentile(r.overhead, 99);
      console.log(
        `| ${r.level} | ${r.overhead.length} | ${f(percentile(r.model, 50))} | ${f(percentile(r.client, 50))} | ${f(p50)} | ${f(p99)} | ${(p50 / baseP50).toFixed(1)}x | ${(p99 / baseP99).toFixed(1)}x |`,
      );
    }
  } finally {
    if (gateway) {
      gateway.child.kill('SIGTERM');
      await once(gateway.child, 'exit');
    }
    fakeModel.child.send({ type: 'stop' } satisfies ToFakeModel);
    await once(fakeModel.child, 'exit');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
