/**
 * Starts the gateway as a child process for the benchmarks that watch its memory (attachments, slow
 * readers) and the attachment smoke test: the built server (dist/) when asked for, else the
 * sources through ts-node, of this checkout or of another one (`root`). It listens on a free
 * loopback port with development auth (X-User-ID) and a throw-away embedded database unless
 * DATABASE_URL is set. It must never leave the child running: `stop()` ends it, and so does this
 * process exiting. `memoryOf` reads a process's resident set from /proc (Linux).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface RunningServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const REPO = join(__dirname, '..', '..');
const LISTENING = /listening on http:\/\/[^:]+:(\d+)/;

export async function startServer(
  env: Record<string, string>,
  opts: { built?: boolean; timeoutMs?: number; root?: string; nodeArgs?: string[] } = {},
): Promise<RunningServer> {
  const root = opts.root ?? REPO;
  const builtEntry = join(root, 'dist', 'src', 'main.js');
  if (opts.built && !existsSync(builtEntry))
    throw new Error('dist/src/main.js is missing: run npm run build');
  const entry = opts.built
    ? [builtEntry]
    : [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        join(root, 'src', 'main.ts'),
      ];
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...entry], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      AUTH_DEV_MODE: 'true',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      EMBEDDED_DATA_DIR: 'memory://',
      TS_NODE_PROJECT: join(root, 'tsconfig.json'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`server did not start within ${opts.timeoutMs ?? 120_000} ms:\n${output.slice(-2000)}`),
      );
    }, opts.timeoutMs ?? 120_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = LISTENING.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with code ${code} before listening:\n${output.slice(-2000)}`));
    });
  });
  // Keep draining its output so a chatty server never blocks on a full pipe.
  child.stdout!.resume();
  child.stderr!.resume();

  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: () => stopChild(child, killOnExit),
  };
}

async function stopChild(child: ChildProcess, killOnExit: () => void): Promise<void> {
  process.off('exit', killOnExit);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

export interface ProcessMemory {
  /** VmRSS: resident now. */
  rssBytes: number;
  /** VmHWM: the highest resident set since the process started or its peak was last reset. */
  hwmBytes: number;
}

export async function memoryOf(pid: number): Promise<ProcessMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`${field} not found in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
}
