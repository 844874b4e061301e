/**
 * Starts the gateway as a child process for the attachment smoke test and memory benchmark: the
 * built server (dist/) when asked for, else the sources through ts-node. It listens on a free
 * loopback port with development auth (X-User-ID) and a throw-away embedded database unless
 * DATABASE_URL is set. It must never leave the child running: `stop()` ends it, and so does this
 * process exiting.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface RunningServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const ROOT = join(__dirname, '..', '..');
const LISTENING = /listening on http:\/\/[^:]+:(\d+)/;

export async function startServer(
  env: Record<string, string>,
  opts: { built?: boolean; timeoutMs?: number } = {},
): Promise<RunningServer> {
  const builtEntry = join(ROOT, 'dist', 'src', 'main.js');
  if (opts.built && !existsSync(builtEntry))
    throw new Error('dist/src/main.js is missing: run npm run build');
  const args = opts.built
    ? [builtEntry]
    : [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        join(ROOT, 'src', 'main.ts'),
      ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      AUTH_DEV_MODE: 'true',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      EMBEDDED_DATA_DIR: 'memory://',
      TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'),
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
