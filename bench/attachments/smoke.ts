/**
 * `npm run smoke`: boots the gateway (`--built` for dist/, else the sources), uploads a fixture
 * through the direct route as a development user, downloads it, and compares SHA-256 digests.
 * Exits 0 when the bytes came back identical, 1 otherwise. Needs nothing running: without
 * DATABASE_URL the server uses a throw-away embedded database.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from './server';

const FIXTURE = join(__dirname, '..', '..', 'test', 'fixtures', 'attachments', 'gradient.png');

async function main(): Promise<number> {
  const built = process.argv.includes('--built');
  const bytes = readFileSync(FIXTURE);
  const expected = createHash('sha256').update(bytes).digest('hex');
  const started = Date.now();
  const server = await startServer({ ATTACHMENTS_CLEANUP_INTERVAL_S: '0' }, { built });
  try {
    console.log(`smoke: server up at ${server.url} in ${Date.now() - started} ms`);
    const headers = { 'X-User-ID': 'smoke-user' };
    const form = new FormData();
    form.append('file', new Blob([bytes], { type: 'image/png' }), 'gradient.png');
    const upload = await fetch(`${server.url}/chatkit/attachments`, { method: 'POST', headers, body: form });
    const attachment = (await upload.json()) as { id?: string; preview_url?: string; message?: string };
    if (upload.status !== 200 || !attachment.id) {
      console.error(`smoke: upload failed with ${upload.status}: ${JSON.stringify(attachment)}`);
      return 1;
    }
    console.log(`smoke: uploaded ${bytes.length} bytes as ${attachment.id}`);

    for (const [label, url, init] of [
      ['owner download', `${server.url}/chatkit/attachments/${attachment.id}`, { headers }],
      ['signed preview', attachment.preview_url ?? '', {}],
    ] as const) {
      const res = await fetch(url, init);
      const got = createHash('sha256')
        .update(Buffer.from(await res.arrayBuffer()))
        .digest('hex');
      if (res.status !== 200 || got !== expected) {
        console.error(`smoke: ${label} answered ${res.status}, sha256 ${got}, expected ${expected}`);
        return 1;
      }
      console.log(`smoke: ${label} OK (sha256 ${got.slice(0, 16)}…)`);
    }
    return 0;
  } finally {
    await server.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`smoke: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
