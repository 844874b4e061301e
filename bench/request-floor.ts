/**
 * What one cheap request costs the gateway's CPU (a benchmark, not a test). Starts the built
 * server (`npm run build`, then `node dist/src/main.js`) as a child process with development auth
 * (so NODE_ENV is unset: production refuses it) and otherwise the defaults (request logging at
 * `info` to a pipe this process drains, metrics, rate limiting at 120 requests a minute per user,
 * in memory), on a fresh PostgreSQL database it creates and drops (or the embedded one with
 * --embedded). Through the protocol (offline responder) it seeds users with 20 threads, or with
 * one thread of 20 items, enough users that none is rate limited (so the limiter's counters hold
 * what they would in production: one busy user's 120 hits, not thousands). Then for each
 * operation sends warm-up requests, then R runs of N requests at C concurrent, reading the server's
 * utime+stime from /proc/<pid>/stat before and after each: server CPU ms per request, of the
 * cheapest run (other work on the machine only adds to it) and of the median one. A bare node:http
 * server answering a small JSON document (forked from this file) is measured the same way in the
 * same run: the floor of Node itself. Prints a markdown table.
 *
 *   npm run build && node -r ts-node/register/transpile-only -r tsconfig-paths/register \
 *     bench/request-floor.ts [--requests 1000] [--repeat 3] [--concurrency 4] [--warmup 500] [--embedded] \
 *     [--entry dist/src/main.js] [--compare <other main.js>] [--ops health,me,threads,items,floor] \
 *     [--profile <dir>]
 *
 * `--entry` runs another build; `--compare` runs a second build beside it (an older commit, or a
 * scratch build with one piece removed), each on its own database, the runs of each operation
 * alternating between the two so that load from elsewhere on the machine falls on both alike. A
 * build kept outside the checkout needs a `node_modules` link beside its dist/. `--profile <dir>`
 * starts the server with `node --cpu-prof` and writes, beside the profile, the monotonic-clock
 * window of each measured operation, so bench/cpu-profile-summary.ts can summarise the samples of
 * one operation alone. DATABASE_URL names the server to create the database on (default
 * postgres://postgres@127.0.0.1:5432/postgres). Linux only (/proc). Everything listens on
 * 127.0.0.1 and stops when done.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';

const REPO = join(__dirname, '..');

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000' },
    repeat: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '500' },
    embedded: { type: 'boolean', default: false },
    entry: { type: 'string', default: join(REPO, 'dist', 'src', 'main.js') },
    compare: { type: 'string' },
    ops: { type: 'string', default: 'health,me,threads,items,floor' },
    profile: { type: 'string' },
    // Internal: this file forked as the bare node:http server.
    'serve-floor': { type: 'boolean', default: false },
  },
});

const requests = Number(values.requests);
const repeat = Number(values.repeat);
const concurrency = Number(values.concurrency);
const warmup = Number(values.warmup);
const ops = values.ops!.split(',');
const THREADS = 20;
const ITEMS = 20;
/** Seeding requests per user: THREADS creations, or one creation and ITEMS / 2 - 1 more turns. */
const SEEDING = Math.max(THREADS, ITEMS / 2);
/** Measured requests per user: with its seeding, under the default limit of 120 a minute. */
const PER_USER = 120 - SEEDING - 10;

// ------------------------------------------------------------------------------ the floor server

if (values['serve-floor']) {
  const server = createServer((_req, res) => {
    const body = JSON.stringify({ status: 'ok' });
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as AddressInfo).port));
  process.on('disconnect', () => process.exit(0));
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}

// ------------------------------------------------------------------------------ CPU

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** utime and stime of a process, in ms (fields 14 and 15 of /proc/<pid>/stat, in clock ticks). */
function cpuOf(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; everything after its closing parenthesis splits.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(fields[11]) * 1000) / CLK_TCK, system: (Number(fields[12]) * 1000) / CLK_TCK };
}

/** The monotonic clock in µs, the clock V8's CPU profiles use for their timestamps. */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

// ------------------------------------------------------------------------------ HTTP

const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function send(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = httpRequest(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(body);
  });
}

function chatkit(base: string, user: string, body: unknown): Promise<Answer> {
  const text = JSON.stringify(body);
  const headers = {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    'X-User-ID': user,
  };
  return send(`${base}/chatkit`, 'POST', headers, text);
}

interface Op {
  name: string;
  /** One request as the `i`th request; throws unless the answer is the expected one. */
  run(i: number): Promise<void>;
}

function expectOk(what: string, answer: Answer, check?: (body: string) => boolean): void {
  if (answer.status !== 200 || (check && !check(answer.body)))
    throw new Error(`${what}: ${answer.status} ${answer.body.slice(0, 300)}`);
}

/** `count` requests, `concurrency` at a time. */
async function drive(op: Op, count: number, offset: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await op.run(offset + next++);
    }),
  );
}

interface Measured {
  name: string;
  /** Which server: the build under test, the one compared with, or the floor. */
  server: string;
  /** CPU ms per request of each repetition, ascending. */
  cpuMsPerRequest: number[];
  /** The kernel's part (stime) of the cheapest repetition, ms per request. */
  systemMsPerRequest: number;
  /** Requests per second of the cheapest repetition. */
  perSecond: number;
  window: { fromUs: number; toUs: number };
}

interface Target {
  server: string;
  pid: number;
  op: Op;
}

/**
 * For one operation: warm-up on every server, then `repeat` rounds of `requests` on each server
 * in turn, so that whatever else the machine is doing weighs on all of them alike. Other work
 * only ever adds CPU time (caches, frequency), so the cheapest run is the estimate; the median
 * shows the spread.
 */
async function measure(targets: Target[]): Promise<Measured[]> {
  for (const t of targets) await drive(t.op, warmup, 0);
  const fromUs = monotonicUs();
  const runs = targets.map(() => [] as Array<{ cpu: number; system: number; perSecond: number }>);
  for (let r = 0; r < repeat; r++) {
    for (const [i, t] of targets.entries()) {
      const before = cpuOf(t.pid);
      const started = performance.now();
      await drive(t.op, requests, warmup + r * requests);
      const wallMs = performance.now() - started;
      const after = cpuOf(t.pid);
      const system = after.system - before.system;
      const cpu = after.user - before.user + system;
      runs[i].push({ cpu: cpu / requests, system: system / requests, perSecond: (requests * 1000) / wallMs });
    }
  }
  const toUs = monotonicUs();
  return targets.map((t, i) => {
    const sorted = runs[i].sort((a, b) => a.cpu - b.cpu);
    return {
      name: t.op.name,
      server: t.server,
      cpuMsPerRequest: sorted.map((x) => x.cpu),
      systemMsPerRequest: sorted[0].system,
      perSecond: sorted[0].perSecond,
      window: { fromUs, toUs },
    };
  });
}

// ------------------------------------------------------------------------------ the gateway

const LISTENING = /listening on http:\/\/[^:]+:(\d+)/;

interface Running {
  child: ChildProcess;
  url: string;
  pid: number;
  /** Lines of output seen before listening (boot noise). */
  bootLines: number;
}

async function startGateway(entry: string, env: Record<string, string>, profile: boolean): Promise<Running> {
  const nodeArgs =
    profile && values.profile
      ? ['--cpu-prof', `--cpu-prof-dir=${resolve(values.profile)}`, '--cpu-prof-interval=100']
      : [];
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: '0',
    AUTH_DEV_MODE: 'true',
    ...env,
  };
  // No model: the offline responder answers the seeding turns.
  // Production refuses development auth; everything else is left at its default.
  const unset = ['NODE_ENV', 'OPENAI_API_KEY', 'OPENAI_BASE_URL', 'REDIS_URL', 'LOG_FORMAT', 'LOG_LEVEL'];
  for (const key of [...unset, ...Object.keys(childEnv).filter((k) => k.startsWith('RATE_LIMIT_'))])
    delete childEnv[key];
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    cwd: REPO,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  const port = await new Promise<number>((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`no start within 120 s:\n${output.slice(-2000)}`)),
      120_000,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = LISTENING.exec(output);
      if (match) {
        clearTimeout(timer);
        done(Number(match[1]));
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`server exited with ${code} before listening:\n${output.slice(-2000)}`));
    });
  });
  // Keep draining the log: a full pipe would block the server.
  child.stdout!.removeAllListeners('data');
  child.stdout!.resume();
  child.stderr!.resume();
  const bootLines = output.split('\n').filter((l) => l.trim()).length;
  return { child, url: `http://127.0.0.1:${port}`, pid: child.pid!, bootLines };
}

async function stopGateway(running: Running): Promise<void> {
  if (running.child.exitCode !== null) return;
  const exited = once(running.child, 'exit');
  running.child.kill('SIGTERM');
  const timer = setTimeout(() => running.child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/** Runs `jobs` four at a time. */
async function inParallel(jobs: Array<() => Promise<void>>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < jobs.length) await jobs[next++]();
    }),
  );
}

const INPUT = { content: [{ type: 'input_text', text: 'hello' }], attachments: [], inference_options: {} };

/** A new thread of `user` (an offline turn stores a user and an assistant message); its id. */
async function createThread(base: string, user: string): Promise<string> {
  const created = await chatkit(base, user, { type: 'threads.create', params: { input: INPUT } });
  expectOk('threads.create', created);
  const id = /"thread":\{"id":"([^"]+)"/.exec(created.body)?.[1];
  if (!id) throw new Error(`threads.create: no thread id in ${created.body.slice(0, 300)}`);
  return id;
}

/** Each user gets THREADS threads (for threads.list). */
async function seedThreads(base: string, users: string[]): Promise<void> {
  await inParallel(
    users.map((user) => async () => {
      for (let t = 0; t < THREADS; t++) await createThread(base, user);
    }),
  );
}

/** Each user gets one thread of ITEMS items (for items.list); the thread of each user. */
async function seedItems(base: string, users: string[]): Promise<Map<string, string>> {
  const threads = new Map<string, string>();
  await inParallel(
    users.map((user) => async () => {
      const id = await createThread(base, user);
      for (let turn = 1; turn < ITEMS / 2; turn++) {
        const added = await chatkit(base, user, {
          type: 'threads.add_user_message',
          params: { thread_id: id, input: INPUT },
        });
        expectOk('threads.add_user_message', added);
      }
      threads.set(user, id);
    }),
  );
  return threads;
}

const countOf = (body: string) => (JSON.parse(body) as { data: unknown[] }).data.length;

// ------------------------------------------------------------------------------ the database

async function createDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const name = `chatkit_floor_${process.pid}_${Date.now()}`;
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: admin.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

// ------------------------------------------------------------------------------ the run

interface Gateway {
  server: string;
  running: Running;
  ops: Record<string, Op>;
  stop(): Promise<void>;
}

/** A gateway on its own database, seeded for the operations asked for. */
async function startSeeded(server: string, entry: string, gatewayOps: string[]): Promise<Gateway> {
  const database = values.embedded ? undefined : await createDatabase();
  const running = await startGateway(
    entry,
    database ? { DATABASE_URL: database.url } : { EMBEDDED_DATA_DIR: 'memory://' },
    server === 'this build',
  ).catch(async (err: unknown) => {
    // A server that did not start leaves no database behind either.
    await database?.drop();
    throw err;
  });
  const stop = async () => {
    await stopGateway(running);
    await database?.drop();
  };
  try {
    const base = running.url;
    // The rate limiter stays at its defaults (120 requests a minute per user): each user makes
    // at most PER_USER requests besides its seeding, so none is refused, and the limiter's
    // counters hold what they hold in production.
    const perOp = Math.ceil((warmup + repeat * requests) / PER_USER);
    const usersOf = (op: string) => Array.from({ length: perOp }, (_, i) => `floor-${op}-${i}`);
    const userOf = (users: string[], i: number) => users[i % users.length];
    const meUsers = usersOf('me');
    const threadUsers = usersOf('threads');
    const itemUsers = usersOf('items');
    if (gatewayOps.includes('threads')) await seedThreads(base, threadUsers);
    const threadOf = gatewayOps.includes('items') ? await seedItems(base, itemUsers) : new Map();
    const ops: Record<string, Op> = {
      health: {
        name: 'GET /health/live',
        run: async () => expectOk('health', await send(`${base}/health/live`, 'GET', {})),
      },
      me: {
        name: 'GET /api/me',
        run: async (i) =>
          expectOk('me', await send(`${base}/api/me`, 'GET', { 'X-User-ID': userOf(meUsers, i) })),
      },
      threads: {
        name: `threads.list (${THREADS})`,
        run: async (i) =>
          expectOk(
            'threads.list',
            await chatkit(base, userOf(threadUsers, i), {
              type: 'threads.list',
              params: { limit: THREADS },
            }),
            (b) => countOf(b) === THREADS,
          ),
      },
      items: {
        name: `items.list (${ITEMS})`,
        run: async (i) => {
          const user = userOf(itemUsers, i);
          const params = { thread_id: threadOf.get(user), limit: ITEMS };
          expectOk(
            'items.list',
            await chatkit(base, user, { type: 'items.list', params }),
            (b) => countOf(b) === ITEMS,
          );
        },
      },
    };
    for (const name of gatewayOps) if (!ops[name]) throw new Error(`unknown op ${name}`);
    return { server, running, ops, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main(): Promise<void> {
  const results: Measured[] = [];
  const gatewayOps = ops.filter((o) => o !== 'floor');
  const builds: Array<[string, string]> = [['this build', resolve(values.entry!)]];
  if (values.compare) builds.push([`compare: ${values.compare}`, resolve(values.compare)]);
  const gateways: Gateway[] = [];
  try {
    if (gatewayOps.length)
      for (const [server, entry] of builds) gateways.push(await startSeeded(server, entry, gatewayOps));
    for (const name of gatewayOps) {
      const targets = gateways.map((g) => ({ server: g.server, pid: g.running.pid, op: g.ops[name] }));
      results.push(...(await measure(targets)));
    }
  } finally {
    for (const g of gateways) await g.stop();
  }
  if (ops.includes('floor')) {
    const floor = fork(__filename, ['--serve-floor'], { stdio: 'inherit' });
    const [port] = (await once(floor, 'message')) as [number];
    try {
      const url = `http://127.0.0.1:${port}/`;
      const op = {
        name: 'bare node:http (floor)',
        run: async () => expectOk('floor', await send(url, 'GET', {})),
      };
      results.push(...(await measure([{ server: 'node:http', pid: floor.pid!, op }])));
    } finally {
      floor.disconnect();
      await once(floor, 'exit');
    }
  }
  agent.destroy();

  const floorCost = results.find((r) => r.server === 'node:http')?.cpuMsPerRequest[0];
  const median = (xs: number[]) => xs[Math.floor((xs.length - 1) / 2)];
  const boot = gateways.map((g) => `${g.server}: ${g.running.bootLines}`).join(', ');
  const lines = [
    `${values.embedded ? 'embedded PostgreSQL' : 'PostgreSQL server'}, ${repeat} x ${requests} requests at ${concurrency} concurrent after ${warmup} warm-up, CLK_TCK ${CLK_TCK}${boot ? `; lines of output before listening: ${boot}` : ''}`,
    '',
    '| request | server | CPU ms/request (cheapest run) | of which kernel | median run | x floor | requests/s |',
    '|---|---|---|---|---|---|---|',
    ...results.map((r) => {
      const best = r.cpuMsPerRequest[0];
      const times = floorCost ? `${(best / floorCost).toFixed(1)}x` : 'n/a';
      return `| ${r.name} | ${r.server} | ${best.toFixed(3)} | ${r.systemMsPerRequest.toFixed(3)} | ${median(r.cpuMsPerRequest).toFixed(3)} | ${times} | ${Math.round(r.perSecond)} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.profile) {
    mkdirSync(resolve(values.profile), { recursive: true });
    const windows = Object.fromEntries(
      results.filter((r) => r.server === 'this build').map((r) => [r.name, r.window]),
    );
    writeFileSync(join(resolve(values.profile), 'windows.json'), JSON.stringify(windows, null, 2));
  }
}
