/**
 * The server CPU one agent turn costs (not a test). Starts the built gateway (`node
 * dist/src/main.js`, run `npm run build` first) as a child process against a fake model in a
 * second child (a streamed answer of 12 text deltas, no delay), drives `threads.create` and
 * `threads.add_user_message` at a fixed concurrency after a warm-up, and reports the gateway's CPU
 * per operation from /proc/<pid>/stat (utime + stime). In the same run it measures the floor in
 * this process: a bare Agents SDK streamed run (one Runner + OpenAIProvider, no tools, no
 * database, no HTTP server) and the raw `openai` client streaming the same answer.
 *
 *   npm run build && npx ts-node -r tsconfig-paths/register bench/turn-cpu.ts \
 *     [--ops 400] [--concurrency 4] [--warmup 100] [--database-url postgres://...] [--dist dist]
 *
 * Without --database-url (or DATABASE_URL) the gateway uses its embedded database.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { Agent, OpenAIProvider, Runner, setTraceProcessors, setTracingDisabled } from '@openai/agents';
import { FakeOpenAI, textTurn } from 'test/support/fake-openai';

const ROOT = join(__dirname, '..');
const WORDS = Array.from({ length: 12 }, (_, i) => `word${i} `);

const { values } = parseArgs({
  options: {
    ops: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '100' },
    'database-url': { type: 'string' },
    port: { type: 'string', default: '3917' },
    fake: { type: 'boolean', default: false },
    /** The build to run, relative to the repository (an older build kept aside, to compare). */
    dist: { type: 'string', default: 'dist' },
    /** Also write a V8 CPU profile of the gateway into this directory, summed by package at the end. */
    profile: { type: 'string' },
  },
});

/** The fake model's own process: answers every model request with the same 12 deltas. */
async function runFake(): Promise<void> {
  const turn = textTurn(WORDS.join(''), { chunks: WORDS });
  const fake = await FakeOpenAI.start({ defaultModelTurn: () => turn });
  // Nothing reads the record; keep memory flat.
  setInterval(() => (fake.requests.length = 0), 1000).unref();
  process.send!({ baseURL: fake.baseURL });
  process.on('message', () => void fake.close().then(() => process.exit(0)));
}

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** utime + stime of `pid`, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which sits in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

const input = (text: string) => ({
  content: [{ type: 'input_text', text }],
  attachments: [],
  inference_options: {},
});

async function post(base: string, user: string, body: unknown): Promise<string> {
  const res = await fetch(`${base}/chatkit`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-User-ID': user },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200 || text.includes('"type":"error"'))
    throw new Error(`${res.status}: ${text.slice(0, 300)}`);
  return text;
}

async function create(base: string, user: string): Promise<string> {
  const text = await post(base, user, { type: 'threads.create', params: { input: input('Hello there') } });
  return (JSON.parse(text.split('\n\n')[0].slice(6)) as { thread: { id: string } }).thread.id;
}

/** Runs `op` `total` times, `concurrency` at a time; worker `w` gets its own user and thread. */
async function drive(
  total: number,
  concurrency: number,
  op: (worker: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < total) {
        next++;
        await op(worker);
      }
    }),
  );
}

async function measureServer(
  pid: number,
  total: number,
  concurrency: number,
  op: (w: number) => Promise<unknown>,
) {
  const before = cpuMs(pid);
  const started = performance.now();
  await drive(total, concurrency, op);
  return { cpuPerOp: (cpuMs(pid) - before) / total, wallS: (performance.now() - started) / 1000 };
}

/** CPU of this process per op: the floor, measured with process.cpuUsage. */
async function measureHere(total: number, concurrency: number, op: () => Promise<unknown>): Promise<number> {
  await drive(Math.min(100, total), concurrency, op);
  const before = process.cpuUsage();
  await drive(total, concurrency, op);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / total;
}

async function waitForHealth(base: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/health/ready`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the gateway did not become ready within 60 s');
}

async function main(): Promise<void> {
  const ops = Number(values.ops);
  const concurrency = Number(values.concurrency);
  const warmup = Number(values.warmup);
  const fakeChild = fork(__filename, ['--fake'], {
    cwd: ROOT,
    execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { baseURL } = await new Promise<{ baseURL: string }>((resolve) => fakeChild.once('message', resolve));
  const databaseUrl = values['database-url'] ?? process.env.DATABASE_URL;
  const base = `http://127.0.0.1:${values.port}`;
  const server = spawn(process.execPath, [join(ROOT, values.dist!, 'src/main.js')], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      PATH: process.env.PATH,
      ...(values.profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${values.profile}` } : {}),
      NODE_ENV: 'development',
      PORT: values.port,
      LOG_LEVEL: 'warn',
      AUTH_DEV_MODE: 'true',
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { EMBEDDED_DATA_DIR: 'memory://' }),
      OPENAI_BASE_URL: baseURL,
      OPENAI_API_KEY: 'bench',
      OPENAI_API: 'responses',
      AGENT_MODEL: 'gpt-bench',
      CHATKIT_MAX_STREAMS_PER_USER: '0',
      CHATKIT_HEARTBEAT_MS: '0',
      RATE_LIMIT_MAX: '1000000',
      RAG_SEED_DOCS: 'false',
    },
  });
  try {
    await waitForHealth(base, server);
    const pid = server.pid!;
    const users = Array.from({ length: concurrency }, (_, w) => `bench-${process.pid}-${w}`);
    const threads: string[] = [];
    for (const user of users) threads.push(await create(base, user));
    const add = (w: number) =>
      post(base, users[w], {
        type: 'threads.add_user_message',
        params: { thread_id: threads[w], input: input('And then?') },
      });
    await drive(warmup, concurrency, (w) => create(base, users[w]));
    await drive(warmup, concurrency, add);
    const created = await measureServer(pid, ops, concurrency, (w) => create(base, users[w]));
    const added = await measureServer(pid, ops, concurrency, add);

    setTraceProcessors([]);
    setTracingDisabled(true);
    const client = new OpenAI({ apiKey: 'bench', baseURL, maxRetries: 0 });
    const runner = new Runner({
      modelProvider: new OpenAIProvider({ openAIClient: client, useResponses: true }),
      tracingDisabled: true,
    });
    const agent = new Agent({ name: 'Assistant', instructions: 'Answer briefly.', model: 'gpt-bench' });
    const sdkRun = async () => {
      const result = await runner.run(agent, 'Hello there', { stream: true });
      for await (const event of result) void event;
      await result.completed;
    };
    const rawStream = async () => {
      const stream = await client.responses.create({
        model: 'gpt-bench',
        input: 'Hello there',
        stream: true,
      });
      for await (const event of stream) void event;
    };
    const sdkFloor = await measureHere(ops, concurrency, sdkRun);
    const rawFloor = await measureHere(ops, concurrency, rawStream);

    const row = (name: string, ms: number, extra = '') =>
      console.log(`${name.padEnd(34)} ${ms.toFixed(2).padStart(7)} ms/op${extra}`);
    console.log(
      `ops=${ops} concurrency=${concurrency} warmup=${warmup} db=${databaseUrl ? 'server' : 'embedded'}`,
    );
    row(
      'threads.create (server CPU)',
      created.cpuPerOp,
      `  (+${(created.cpuPerOp - sdkFloor).toFixed(2)} over the SDK floor, ${(ops / created.wallS).toFixed(0)} op/s)`,
    );
    row(
      'threads.add_user_message (server)',
      added.cpuPerOp,
      `  (+${(added.cpuPerOp - sdkFloor).toFixed(2)} over the SDK floor, ${(ops / added.wallS).toFixed(0)} op/s)`,
    );
    row('bare Agents SDK streamed run', sdkFloor);
    row('raw openai client stream', rawFloor);
  } finally {
    server.kill('SIGTERM');
    fakeChild.send('stop');
  }
  if (values.profile) {
    await new Promise((resolve) => server.once('exit', resolve));
    printProfile(values.profile);
  }
}

interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string };
}

/** Self time of the newest profile in `dir`, by package (or by our own folder), largest first. */
function printProfile(dir: string): void {
  const file = readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => join(dir, name))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!;
    const { url, functionName } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)') return;
    const dt = profile.timeDeltas[i] ?? 0;
    all += dt;
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
    const key =
      pkg ??
      (url.includes('/dist/src/')
        ? `ours ${url.split('/dist/src/')[1].split('/')[0]}`
        : url
          ? url
              .replace(/^node:/, 'node:')
              .split('/')
              .slice(0, 2)
              .join('/')
          : functionName);
    totals.set(key, (totals.get(key) ?? 0) + dt);
  });
  console.log(`profile ${file}: self time by package (busy time only)`);
  for (const [key, us] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`  ${((100 * us) / all).toFixed(1).padStart(5)}%  ${key}`);
  }
}

if (values.fake) void runFake();
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
