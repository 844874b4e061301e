/**
 * `npm run start:dev` keeps development login on, as `npm start` does: the watcher compiles the
 * whole app and serves it on the embedded database (in memory), and a development user is
 * answered. It never uses the database the suite runs on, so it is registered in the embedded pass
 * only (jest.config.js): compiling the app twice per CI run would buy nothing.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('npm run start:dev', () => {
  // It compiles the whole app before it listens; on a loaded machine that takes a while.
  const STARTUP_MS = 240_000;

  it(
    'starts with development login on, like npm start',
    async () => {
      const port = await freePort();
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: String(port),
        HOST: '127.0.0.1',
        EMBEDDED_DATA_DIR: 'memory://',
        RAG_SEED_DOCS: 'false',
        LOG_LEVEL: 'warn',
      };
      // Its own process group, so the watcher and the app it started stop together.
      const child = spawn('npm', ['run', 'start:dev'], { cwd: ROOT, env, detached: true, stdio: 'pipe' });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      try {
        const deadline = Date.now() + STARTUP_MS;
        let me: Response | undefined;
        while (!me) {
          if (child.exitCode !== null) throw new Error(`start:dev exited (${child.exitCode}):\n${output}`);
          if (Date.now() > deadline)
            throw new Error(`start:dev did not answer within ${STARTUP_MS / 1000} s:\n${output}`);
          me = await fetch(`http://127.0.0.1:${port}/api/me`, {
            headers: { 'X-User-ID': 'dev-alice' },
          }).catch(() => undefined);
          if (!me) await new Promise((resolve) => setTimeout(resolve, 500));
        }
        expect(me.status).toBe(200);
        expect(await me.json()).toEqual({ userId: 'dev-alice', orgId: null, isAdmin: false });
      } finally {
        if (child.exitCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          process.kill(-child.pid!, 'SIGTERM');
          await exited;
        }
      }
    },
    STARTUP_MS + 30_000,
  );
});
