/**
 * What clients that never read cost the gateway's memory (a benchmark, not a test). Starts the
 * fake model (bench/agent/fake-model.ts, its own process) answering every streamed request with a
 * long text in many deltas as fast as it is taken, then, each phase on a fresh gateway process
 * (src/main.ts under ts-node, see bench/attachments/server.ts):
 *
 * - never-read: N raw TCP clients each send one streaming `threads.create` (a different user each,
 *   so CHATKIT_MAX_STREAMS_PER_USER does not interfere) and never read a byte of the answer;
 * - read-all: the same N requests from clients that read everything and discard it, so the cost of
 *   the answer itself is visible;
 * - floor: a bare `node:http` server in its own process writing the same bytes as SSE frames to N
 *   clients that never read, once ignoring write()'s return value and once waiting for 'drain'.
 *
 * The server's VmRSS is read from /proc/<pid>/status every 250 ms; its VmHWM (peak resident set)
 * is reset just before the clients connect, so the peak covers the phase only. Prints a markdown
 * table: baseline RSS (median over 2 s, idle, warmed up), peak, RSS at the end, and peak minus
 * baseline per client, with how much of the answer the model managed to send the gateway and how
 * many streams the gateway cut as too slow.
 *
 *   node -r ts-node/register/transpile-only -r tsconfig-paths/register bench/streams/slow-readers.ts \
 *     [--cwd <checkout>] [--clients 5] [--mb 20] [--delta-bytes 1024] [--duration 20] \
 *     [--slow-reader-timeout-ms 30000] [--phases never-read,read-all,floor] [--floor-duration 5] \
 *     [--auth dev|jwt]
 *
 * `--cwd` runs the gateway of another checkout (an older version, say) with the same fake model
 * and clients; settings that checkout does not know are ignored by it, and what it does not report
 * shows as n/a. Uses the PostgreSQL in DATABASE_URL when set, else the app's embedded one (in
 * memory, inside the gateway process, so stored answers count in its RSS). Linux only (/proc).
 * Everything listens on 127.0.0.1 and stops when done.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import {
  startFakeModel,
  type FromFakeModel,
  type ModelTiming,
  type ToFakeModel,
} from 'bench/agent/fake-model';
import { memoryOf, startServer, type RunningServer } from 'bench/attachments/server';
import { resetPeak } from 'bench/support/proc';

const REPO = join(__dirname, '..', '..');
const MiB = 1024 * 1024;
const SAMPLE_MS = 250;

const { values } = parseArgs({
  options: {
    cwd: { type: 'string', default: REPO },
    clients: { type: 'string', default: '5' },
    mb: { type: 'string', default: '20' },
    'delta-bytes': { type: 'string', default: '1024' },
    duration: { type: 'string', default: '20' },
    'slow-reader-timeout-ms': { type: 'string' },
    phases: { type: 'string', default: 'never-read,read-all,floor' },
    'floor-duration': { type: 'string', default: '5' },
    auth: { type: 'string', default: 'dev' },
    // Internal: this file forked as the floor server.
    'serve-floor': { type: 'string' },
  },
});

const cwd = resolve(values.cwd!);
const clients = Number(values.clients);
const answerBytes = Math.round(Number(values.mb) * MiB);
const deltaBytes = Number(values['delta-bytes']);
const durationMs = Number(values.duration) * 1000;
const floorDurationMs = Number(values['floor-duration']) * 1000;
const slowReaderTimeoutMs = values['slow-reader-timeout-ms'];
const phases = values.phases!.split(',');
const auth = values.auth === 'jwt' ? 'jwt' : 'dev';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;

// ------------------------------------------------------------------------------ the text

/** The answer as SSE frames shaped like the gateway's text deltas (for the floor server). */
function* floorFrames(): Generator<string> {
  const sentence = 'The quick brown fox jumps over the lazy dog while the answer keeps going. ';
  const text = sentence.repeat(Math.ceil(deltaBytes / sentence.length) + 1);
  for (let sent = 0, i = 0; sent < answerBytes; sent += deltaBytes, i++) {
    const offset = i % sentence.length;
    const delta = text.slice(offset, offset + Math.min(deltaBytes, answerBytes - sent));
    const event = {
      type: 'thread.item.updated',
      item_id: 'msg_floor',
      update: { type: 'assistant_message.content_part.text_delta', content_index: 0, delta },
    };
    yield `data: ${JSON.stringify(event)}\n\n`;
  }
}

// ------------------------------------------------------------------------------ memory

interface Sample {
  atMs: number;
  rssBytes: number;
}

/** Median VmRSS over `ms` of idle. */
async function baselineOf(pid: number, ms = 2000): Promise<number> {
  const rss: number[] = [];
  for (const until = Date.now() + ms; Date.now() < until; await sleep(SAMPLE_MS))
    rss.push((await memoryOf(pid)).rssBytes);
  return rss.sort((a, b) => a - b)[Math.floor(rss.length / 2)];
}

/** Samples VmRSS every 250 ms until `stop` says so (checked after each sample). */
async function sampleUntil(pid: number, stop: (elapsedMs: number) => boolean): Promise<Sample[]> {
  const started = Date.now();
  const samples: Sample[] = [];
  for (;;) {
    const atMs = Date.now() - started;
    samples.push({ atMs, rssBytes: (await memoryOf(pid)).rssBytes });
    if (stop(atMs)) return samples;
    await sleep(SAMPLE_MS - ((Date.now() - started) % SAMPLE_MS));
  }
}

/** RSS at every 5 s mark, for the log: how memory moved during the phase. */
function timeline(samples: Sample[]): string {
  const marks: string[] = [];
  let next = 0;
  for (const s of samples) {
    if (s.atMs < next) continue;
    marks.push(`${Math.round(s.atMs / 1000)}s ${(s.rssBytes / MiB).toFixed(0)}`);
    next = Math.floor(s.atMs / 5000) * 5000 + 5000;
  }
  const last = samples[samples.length - 1];
  if (last && !marks[marks.length - 1].startsWith(`${Math.round(last.atMs / 1000)}s`))
    marks.push(`${(last.atMs / 1000).toFixed(1)}s ${(last.rssBytes / MiB).toFixed(0)}`);
  return `RSS MiB: ${marks.join(', ')}`;
}

// ------------------------------------------------------------------------------ clients

interface Client {
  socket: Socket;
  /** Bytes received (0 for a client that never reads). */
  bytes: number;
  /** First line of the response, once read. */
  status?: string;
  closed: Promise<void>;
}

/** Sends one HTTP/1.1 request on a raw socket; a paused socket never takes a byte from the kernel. */
function rawRequest(port: number, head: string, body: Buffer | undefined, opts: { read: boolean }): Client {
  const socket = connect(port, '127.0.0.1');
  // Paused before anything arrives: Node stops reading the socket once its own small buffer is
  // full, the kernel's receive window fills, and the server's writes back up. (Node offers no way
  // to shrink SO_RCVBUF on a TCP socket; the kernel's default applies.)
  if (!opts.read) socket.pause();
  socket.on('error', () => undefined);
  const client: Client = { socket, bytes: 0, closed: once(socket, 'close').then(() => undefined) };
  if (opts.read) {
    let tail = '';
    socket.on('data', (chunk: Buffer) => {
      if (client.bytes === 0) client.status = chunk.toString('latin1', 0, 64).split('\r\n')[0];
      client.bytes += chunk.length;
      // The last chunk of a chunked body ends the answer: the gateway answers an SSE request with
      // `Connection: keep-alive` whatever the client asked, so waiting for it to close would add
      // its keep-alive timeout.
      tail = (tail + chunk.toString('latin1', Math.max(0, chunk.length - 16))).slice(-16);
      if (tail.endsWith('\r\n0\r\n\r\n')) socket.destroy();
    });
  }
  socket.write(head + (body ? `Content-Length: ${body.length}\r\n` : '') + 'Connection: close\r\n\r\n');
  if (body) socket.write(body);
  return client;
}

let jwtSecret: string | undefined;

async function authHeader(user: string): Promise<string> {
  if (!jwtSecret) return `X-User-ID: ${user}\r\n`;
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(jwtSecret));
  return `Authorization: Bearer ${token}\r\n`;
}

async function chatkitCreate(url: string, user: string, marker: string, read: boolean): Promise<Client> {
  const body = Buffer.from(
    JSON.stringify({
      type: 'threads.create',
      params: {
        input: {
          content: [{ type: 'input_text', text: `[bench:${marker}] Tell me everything.` }],
          attachments: [],
          inference_options: {},
        },
      },
    }),
  );
  const head =
    `POST /chatkit HTTP/1.1\r\nHost: ${new URL(url).host}\r\n${await authHeader(user)}` +
    'Content-Type: application/json\r\n';
  return rawRequest(Number(new URL(url).port), head, body, { read });
}

// ------------------------------------------------------------------------------ fake model

function modelReport(child: ChildProcess): Promise<ModelTiming[]> {
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

// ------------------------------------------------------------------------------ phases

interface Row {
  server: string;
  clients: string;
  timeout: string;
  baseline: number;
  peak: number;
  end: number;
  modelSent: string;
  cut: string;
  note: string;
}

function revisionOf(dir: string): string {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

/** The slow-reader cuts the gateway counted, or n/a when it has no such metric. */
async function slowReaderCuts(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text().catch(() => '');
  if (!text.includes('chatkit_stream_slow_reader_cuts_total')) return 'n/a';
  let total = 0;
  for (const match of text.matchAll(/^\S*chatkit_stream_slow_reader_cuts_total(?:\{[^}]*\})? (\S+)$/gm))
    total += Number(match[1]);
  return String(total);
}

/** Whether this checkout's gateway knows the slow-reader timeout at all. */
function knowsSlowReaderTimeout(): boolean {
  try {
    return readFileSync(join(cwd, 'src', 'config', 'chatkit.config.ts'), 'utf8').includes(
      'CHATKIT_SLOW_READER_TIMEOUT_MS',
    );
  } catch {
    return false;
  }
}

async function gatewayPhase(
  kind: 'never-read' | 'read-all',
  fake: { child: ChildProcess; baseURL: string },
  run: string,
): Promise<Row> {
  const env: Record<string, string> = {
    OPENAI_BASE_URL: fake.baseURL,
    OPENAI_API_KEY: 'bench',
    OPENAI_API: 'responses',
    AGENT_MAX_RETRIES: '0',
    RAG_SEED_DOCS: 'false',
    RAG_EMBEDDINGS_MODEL: '',
    RATE_LIMIT_ENABLED: 'false',
    METRICS_ENABLED: 'true',
    ...(slowReaderTimeoutMs ? { CHATKIT_SLOW_READER_TIMEOUT_MS: slowReaderTimeoutMs } : {}),
    ...(jwtSecret ? { AUTH_DEV_MODE: 'false', AUTH_JWT_SECRET: jwtSecret } : { AUTH_DEV_MODE: 'true' }),
  };
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each gateway there when it exits.
  const profile = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : [];
  const server: RunningServer = await startServer(env, { root: cwd, nodeArgs: profile });
  const sockets: Client[] = [];
  try {
    // Warm-up, not measured: a short answer read to the end, so the code paths are loaded.
    const warm = await chatkitCreate(server.url, `bench-${run}-warmup`, 'short', true);
    await warm.closed;
    if (!warm.status?.includes(' 200 ')) throw new Error(`warm-up failed: ${warm.status}`);
    await sleep(1000);
    const baseline = await baselineOf(server.pid);
    await modelReport(fake.child);
    const peakReset = await resetPeak(server.pid);

    const read = kind === 'read-all';
    for (let i = 0; i < clients; i++)
      sockets.push(await chatkitCreate(server.url, `bench-${run}-${kind}-${i}`, `${kind}-${i}`, read));
    const started = Date.now();
    const allClosed = { at: 0 };
    void Promise.all(sockets.map((c) => c.closed)).then(() => (allClosed.at = Date.now()));
    // Readers: until every answer is in (and 1 s more), at most the duration; others: the duration.
    const samples = await sampleUntil(
      server.pid,
      (elapsed) => elapsed >= durationMs || (allClosed.at > 0 && Date.now() - allClosed.at > 1000),
    );
    const memory = await memoryOf(server.pid);
    const peak = Math.max(peakReset ? memory.hwmBytes : 0, ...samples.map((s) => s.rssBytes));
    const end = samples[samples.length - 1].rssBytes;
    const cut = await slowReaderCuts(server.url);
    const timings = await modelReport(fake.child);
    const totalDeltas = Math.ceil(answerBytes / deltaBytes);
    const written = timings.reduce((sum, t) => sum + t.deltasWritten, 0);
    const complete = timings.filter((t) => t.completed).length;
    const notes: string[] = [];
    if (timings.length !== clients) notes.push(`model saw ${timings.length} of ${clients} requests`);
    if (read) {
      const ok = sockets.filter((c) => c.status?.includes(' 200 ')).length;
      const each = mib(sockets.reduce((sum, c) => sum + c.bytes, 0) / clients);
      notes.push(
        allClosed.at
          ? `${ok}/${clients} answers read (${each} each on the wire) in ${((allClosed.at - started) / 1000).toFixed(1)} s`
          : `${ok}/${clients} status 200, answers not finished in ${durationMs / 1000} s`,
      );
    }
    if (!peakReset) notes.push('peak sampled (VmHWM could not be reset)');
    console.log(`${kind}: ${timeline(samples)}`);
    return {
      server: `gateway ${revisionOf(cwd)} (${basename(cwd)})`,
      clients: `${clients} ${read ? 'reading' : 'never reading'}`,
      timeout: !knowsSlowReaderTimeout()
        ? 'none (not in this version)'
        : `${Number(slowReaderTimeoutMs ?? 30_000) / 1000} s`,
      baseline,
      peak,
      end,
      modelSent: `${((100 * written) / (totalDeltas * clients)).toFixed(0)}% (${complete}/${clients} complete)`,
      cut,
      note: notes.join('; '),
    };
  } finally {
    for (const c of sockets) c.socket.destroy();
    await server.stop();
  }
}

async function floorPhase(mode: 'ignore' | 'honour'): Promise<Row> {
  const child = fork(
    __filename,
    ['--serve-floor', mode, '--mb', values.mb!, '--delta-bytes', String(deltaBytes)],
    {
      cwd: REPO,
      execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
      env: { ...process.env, TS_NODE_PROJECT: join(REPO, 'tsconfig.json') },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const sockets: Client[] = [];
  try {
    const [port] = (await once(child, 'message')) as [number];
    // One short request first, so the baseline is a server that has answered once.
    const warm = rawRequest(port, 'GET /warm HTTP/1.1\r\nHost: 127.0.0.1\r\n', undefined, { read: true });
    await warm.closed;
    await sleep(500);
    const baseline = await baselineOf(child.pid!);
    const peakReset = await resetPeak(child.pid!);
    for (let i = 0; i < clients; i++)
      sockets.push(rawRequest(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n', undefined, { read: false }));
    const samples = await sampleUntil(child.pid!, (elapsed) => elapsed >= floorDurationMs);
    const memory = await memoryOf(child.pid!);
    console.log(`floor (${mode} write()): ${timeline(samples)}`);
    return {
      server: `bare node:http, ${mode === 'ignore' ? 'ignores' : 'honours'} write()`,
      clients: `${clients} never reading`,
      timeout: 'none',
      baseline,
      peak: Math.max(peakReset ? memory.hwmBytes : 0, ...samples.map((s) => s.rssBytes)),
      end: samples[samples.length - 1].rssBytes,
      modelSent: '-',
      cut: '-',
      note: peakReset ? '' : 'peak sampled (VmHWM could not be reset)',
    };
  } finally {
    for (const c of sockets) c.socket.destroy();
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
}

/** The floor server itself (this file forked with --serve-floor). */
async function serveFloor(mode: 'ignore' | 'honour'): Promise<void> {
  const server = createServer((req, res: ServerResponse) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' });
    if (req.url === '/warm') {
      res.end('data: {}\n\n');
      return;
    }
    void (async () => {
      for (const frame of floorFrames()) {
        if (res.destroyed) return;
        if (!res.write(frame) && mode === 'honour') {
          await new Promise<void>((resolve) => {
            const go = (): void => {
              res.off('drain', go);
              res.off('close', go);
              resolve();
            };
            res.on('drain', go);
            res.on('close', go);
          });
        }
      }
      res.end();
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.send!((server.address() as AddressInfo).port);
  process.on('SIGTERM', () => process.exit(0));
}

// ------------------------------------------------------------------------------ main

async function main(): Promise<void> {
  if (auth === 'jwt') jwtSecret = randomBytes(32).toString('hex');
  const run = Date.now().toString(36);
  const database = process.env.DATABASE_URL
    ? 'PostgreSQL from DATABASE_URL'
    : 'embedded PostgreSQL (in the gateway process, in memory)';
  console.log(
    `gateway: ${cwd} (${revisionOf(cwd)}); ${database}; auth: ${auth}; ${clients} clients; ` +
      `answer ${mib(answerBytes)} in ${Math.ceil(answerBytes / deltaBytes)} deltas of ${deltaBytes} B; ` +
      `sampling ${durationMs / 1000} s (floor ${floorDurationMs / 1000} s); ` +
      `kernel tcp_wmem ${readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().replace(/\s+/g, ' ')}`,
  );
  const rows: Row[] = [];
  const fake = await startFakeModel({
    BENCH_ANSWER_BYTES: String(answerBytes),
    BENCH_DELTA_BYTES: String(deltaBytes),
    BENCH_DELTA_DELAY_MS: '0',
  });
  try {
    if (phases.includes('never-read')) rows.push(await gatewayPhase('never-read', fake, run));
    if (phases.includes('read-all')) rows.push(await gatewayPhase('read-all', fake, run));
  } finally {
    fake.child.send({ type: 'stop' } satisfies ToFakeModel);
    await once(fake.child, 'exit');
  }
  if (phases.includes('floor')) {
    rows.push(await floorPhase('ignore'));
    rows.push(await floorPhase('honour'));
  }

  console.log('');
  console.log(
    '| server | clients | slow-reader timeout | baseline RSS | peak RSS | end RSS | (peak − baseline) / client | model answer sent | cut as slow | notes |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.server} | ${r.clients} | ${r.timeout} | ${mib(r.baseline)} | ${mib(r.peak)} | ${mib(r.end)} | ${mib((r.peak - r.baseline) / clients)} | ${r.modelSent} | ${r.cut} | ${r.note} |`,
    );
  }
}

const floorMode = values['serve-floor'];
(floorMode ? serveFloor(floorMode === 'honour' ? 'honour' : 'ignore') : main()).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
