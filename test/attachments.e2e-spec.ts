/**
 * Attachments over real HTTP against the real AppModule and PostgreSQL: both upload flows with
 * each storage driver (PostgreSQL, a temp directory, s3rver on loopback), every refusal with
 * nothing left behind, signed links (expiry, tampering), ranges and validators, other users,
 * cleanup, thread deletion, and preview links re-signed on read.
 *
 * One app at a time: the embedded test database takes a single connection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { UrlSigner } from 'src/attachments/attachment.signer';
import { AttachmentReaderService } from 'src/attachments/attachment-reader.service';
import { ATTACHMENT_STORAGE, type AttachmentStorage } from 'src/attachments/storage/attachment-storage';
import { chatkit, userInput } from 'test/support/chatkit-client';
import { startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';

// s3rver ships without type declarations; this is the part of its API the test uses.
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverInstance;

const FIXTURES = join(__dirname, 'fixtures', 'attachments');
const PNG = readFileSync(join(FIXTURES, 'gradient.png'));
const PDF = readFileSync(join(FIXTURES, 'report.pdf'));
const TEXT = readFileSync(join(FIXTURES, 'notes.txt'));
const FAKE_PNG = readFileSync(join(FIXTURES, 'not-really.png'));

const SIGNING_KEY = 'attachment-signing-key-for-tests-0123456789abcdef';
const MiB = 1024 * 1024;

/** Response bodies of this API, read loosely as the assertions need them. */
const json = (res: Response): Promise<any> => res.json();

const sha256 = (data: Buffer | Uint8Array) => createHash('sha256').update(data).digest('hex');

interface Harness {
  app: TestApp;
  db: DataSource;
  storage: AttachmentStorage;
}

function harness(app: TestApp): Harness {
  return { app, db: app.app.get(DataSource), storage: app.app.get<AttachmentStorage>(ATTACHMENT_STORAGE) };
}

async function create(app: TestApp, user: string, params: { name: string; size: number; mime_type: string }) {
  return chatkit(app, user, { type: 'attachments.create', params });
}

/** Sends bytes to an upload descriptor as ChatKit.js does (multipart) or as a raw body. */
async function sendBytes(
  descriptor: { url: string; method: string; headers?: Record<string, string> },
  bytes: Buffer,
  opts: { raw?: boolean; name?: string; type?: string } = {},
): Promise<Response> {
  if (opts.raw) {
    return fetch(descriptor.url, {
      method: descriptor.method,
      headers: { 'Content-Type': 'application/octet-stream', ...descriptor.headers },
      body: bytes,
    });
  }
  const form = new FormData();
  form.append(
    'file',
    new Blob([bytes], { type: opts.type ?? 'application/octet-stream' }),
    opts.name ?? 'file',
  );
  return fetch(descriptor.url, { method: descriptor.method, headers: descriptor.headers, body: form });
}

async function directUpload(app: TestApp, user: string, bytes: Buffer, name: string, type: string) {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), name);
  return app.fetch('/chatkit/attachments', { method: 'POST', user, body: form });
}

async function twoPhase(app: TestApp, user: string, bytes: Buffer, name: string, type: string, raw = false) {
  const created = await create(app, user, { name, size: bytes.length, mime_type: type });
  expect(created.status).toBe(200);
  const uploaded = await sendBytes(created.json.upload_descriptor, bytes, { raw, name, type });
  const body = await json(uploaded);
  expect(uploaded.status).toBe(200);
  return { created: created.json, uploaded: body };
}

async function bytesOf(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

async function rowCount(db: DataSource, id: string): Promise<number> {
  const rows: unknown[] = await db.query(`SELECT 1 FROM attachments WHERE id = $1`, [id]);
  return rows.length;
}

async function storedKeys(storage: AttachmentStorage): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of storage.list()) keys.push(key);
  return keys;
}

async function keyExists(storage: AttachmentStorage, id: string): Promise<boolean> {
  // Two-phase uploads store under the id plus a suffix of their own.
  return (await storedKeys(storage)).some((k) => k.endsWith(`/${id}`) || k.includes(`/${id}.`));
}

/** Both flows, every kind of file, one driver: the same behaviour whatever stores the bytes. */
function describeRoundTrips(h: () => Harness) {
  it('two-phase: create, upload (multipart), send in a message, download the same bytes', async () => {
    const { app } = h();
    const user = uniqueUser();
    const { created, uploaded } = await twoPhase(app, user, PNG, 'gradient.png', 'image/png');
    expect(created).toMatchObject({ type: 'image', name: 'gradient.png', mime_type: 'image/png' });
    expect(created.upload_descriptor).toEqual({
      url: expect.stringContaining('/upload?exp='),
      method: 'PUT',
      headers: {},
    });
    expect(created.preview_url).toContain(`${app.url}/chatkit/attachments/${created.id}/content?`);
    expect(uploaded).toMatchObject({ id: created.id, type: 'image', mime_type: 'image/png' });
    expect(uploaded.upload_descriptor).toBeUndefined();
    expect(uploaded.metadata).toBeUndefined();

    const thread = await chatkit(app, user, {
      type: 'threads.create',
      params: { input: userInput('What is in this picture?', { attachments: [created.id] }) },
    });
    expect(thread.status).toBe(200);
    const message = thread.events.find(
      (e) => e.type === 'thread.item.done' && e.item.type === 'user_message',
    );
    const threadId = thread.events[0].thread.id;
    expect(message.item.attachments).toEqual([
      expect.objectContaining({
        id: created.id,
        type: 'image',
        thread_id: threadId,
        preview_url: expect.any(String),
      }),
    ]);

    const owner = await app.fetch(`/chatkit/attachments/${created.id}`, { user });
    expect(owner.status).toBe(200);
    expect(sha256(await bytesOf(owner))).toBe(sha256(PNG));
    const preview = await fetch(message.item.attachments[0].preview_url);
    expect(preview.status).toBe(200);
    expect(preview.headers.get('content-type')).toBe('image/png');
    expect(sha256(await bytesOf(preview))).toBe(sha256(PNG));
  });

  it('two-phase with a raw PUT body, and a PDF', async () => {
    const { app } = h();
    const user = uniqueUser();
    const { created } = await twoPhase(app, user, PDF, 'report.pdf', 'application/pdf', true);
    expect(created).toMatchObject({ type: 'file', mime_type: 'application/pdf' });
    expect(created.preview_url).toBeUndefined();
    const res = await app.fetch(`/chatkit/attachments/${created.id}`, { user });
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="report.pdf"/);
    expect(sha256(await bytesOf(res))).toBe(sha256(PDF));
  });

  it('direct: one multipart request gives a ready attachment usable in a message', async () => {
    const { app } = h();
    const user = uniqueUser();
    const res = await directUpload(app, user, TEXT, 'notes.txt', 'text/plain');
    expect(res.status).toBe(200);
    const attachment = await json(res);
    expect(attachment).toMatchObject({ type: 'file', name: 'notes.txt', mime_type: 'text/plain' });
    expect(attachment.upload_descriptor).toBeUndefined();
    const thread = await chatkit(app, user, {
      type: 'threads.create',
      params: { input: userInput('Summarise', { attachments: [attachment.id] }) },
    });
    expect(thread.status).toBe(200);
    const download = await app.fetch(`/chatkit/attachments/${attachment.id}`, { user });
    expect(download.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(sha256(await bytesOf(download))).toBe(sha256(TEXT));
  });

  it('a large file streams in and out intact', async () => {
    const { app } = h();
    const user = uniqueUser();
    // Text, so it passes the type check; 3 MiB spans several storage chunks and S3 parts.
    const big = Buffer.from(randomBytes((3 * MiB) / 2).toString('hex'));
    const res = await directUpload(app, user, big, 'big.txt', 'text/plain');
    expect(res.status).toBe(200);
    const { id } = await json(res);
    const download = await app.fetch(`/chatkit/attachments/${id}`, { user });
    expect(Number(download.headers.get('content-length'))).toBe(big.length);
    expect(sha256(await bytesOf(download))).toBe(sha256(big));
  });
}

describe('attachments: PostgreSQL storage (default)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = harness(
      await startApp({
        ATTACHMENTS_SIGNING_KEY: SIGNING_KEY,
        CHATKIT_ATTACHMENT_MAX_MB: '4',
        ATTACHMENTS_USER_QUOTA_MB: '8',
        ATTACHMENTS_CLEANUP_INTERVAL_S: '0',
      }),
    );
  });
  afterAll(() => h.app.close());

  describeRoundTrips(() => h);

  describe('refusals leave nothing behind', () => {
    it('413 when the declared size is over the limit; nothing is recorded', async () => {
      const user = uniqueUser();
      const res = await create(h.app, user, {
        name: 'huge.pdf',
        size: 5 * MiB,
        mime_type: 'application/pdf',
      });
      expect(res.status).toBe(413);
      expect(res.json.code).toBe('attachment_too_large');
      const rows: unknown[] = await h.db.query(`SELECT 1 FROM attachments WHERE user_id = $1`, [user]);
      expect(rows).toHaveLength(0);
    });

    it('415 for a type that is not allowed, declared or uploaded directly', async () => {
      const user = uniqueUser();
      const declared = await create(h.app, user, { name: 'x.svg', size: 10, mime_type: 'image/svg+xml' });
      expect(declared.status).toBe(415);
      expect(declared.json.code).toBe('attachment_type_not_allowed');
      const direct = await directUpload(
        h.app,
        user,
        Buffer.from('MZ\x90\x00'),
        'tool.exe',
        'application/x-msdownload',
      );
      expect(direct.status).toBe(415);
      expect((await json(direct)).code).toBe('attachment_type_not_allowed');
      const rows: unknown[] = await h.db.query(`SELECT 1 FROM attachments WHERE user_id = $1`, [user]);
      expect(rows).toHaveLength(0);
    });

    it('415 for spoofed content (HTML named .png), two-phase and direct; no record, no bytes', async () => {
      const user = uniqueUser();
      const created = await create(h.app, user, {
        name: 'cat.png',
        size: FAKE_PNG.length,
        mime_type: 'image/png',
      });
      const res = await sendBytes(created.json.upload_descriptor, FAKE_PNG, {
        name: 'cat.png',
        type: 'image/png',
      });
      expect(res.status).toBe(415);
      expect((await json(res)).code).toBe('attachment_type_mismatch');
      expect(await rowCount(h.db, created.json.id)).toBe(0);
      expect(await keyExists(h.storage, created.json.id)).toBe(false);

      const direct = await directUpload(h.app, user, FAKE_PNG, 'cat.png', 'image/png');
      expect(direct.status).toBe(415);
      expect((await json(direct)).code).toBe('attachment_type_mismatch');
      const rows: unknown[] = await h.db.query(`SELECT 1 FROM attachments WHERE user_id = $1`, [user]);
      expect(rows).toHaveLength(0);
    });

    it('413 when the real bytes are larger than declared, and when a body is over the limit', async () => {
      const user = uniqueUser();
      const text = Buffer.from('a'.repeat(2000));
      const created = await create(h.app, user, { name: 'a.txt', size: 100, mime_type: 'text/plain' });
      const res = await sendBytes(created.json.upload_descriptor, text, {
        name: 'a.txt',
        type: 'text/plain',
      });
      expect(res.status).toBe(413);
      expect((await json(res)).code).toBe('attachment_too_large');
      expect(await rowCount(h.db, created.json.id)).toBe(0);
      expect(await keyExists(h.storage, created.json.id)).toBe(false);

      // A raw body announcing more than the limit is refused before it is read.
      const declaredOk = await create(h.app, user, { name: 'b.txt', size: 4 * MiB, mime_type: 'text/plain' });
      const tooBig = Buffer.alloc(4 * MiB + 10, 'b');
      const raw = await sendBytes(declaredOk.json.upload_descriptor, tooBig, { raw: true });
      expect(raw.status).toBe(413);
      expect(await rowCount(h.db, declaredOk.json.id)).toBe(0);

      // A multipart body is only measured as it streams.
      const direct = await directUpload(h.app, user, tooBig, 'c.txt', 'text/plain');
      expect(direct.status).toBe(413);
      expect((await json(direct)).code).toBe('attachment_too_large');
      const rows: unknown[] = await h.db.query(`SELECT 1 FROM attachments WHERE user_id = $1`, [user]);
      expect(rows).toHaveLength(0);
    });

    it('413 attachment_quota_exceeded once a user holds their quota', async () => {
      const user = uniqueUser();
      for (let i = 0; i < 2; i++) {
        const ok = await create(h.app, user, {
          name: `p${i}.pdf`,
          size: 4 * MiB,
          mime_type: 'application/pdf',
        });
        expect(ok.status).toBe(200);
      }
      const over = await create(h.app, user, { name: 'p2.pdf', size: 1, mime_type: 'application/pdf' });
      expect(over.status).toBe(413);
      expect(over.json.code).toBe('attachment_quota_exceeded');
      const direct = await directUpload(h.app, user, TEXT, 'n.txt', 'text/plain');
      expect(direct.status).toBe(413);
      expect((await json(direct)).code).toBe('attachment_quota_exceeded');
      // Another user is unaffected.
      expect((await directUpload(h.app, uniqueUser(), TEXT, 'n.txt', 'text/plain')).status).toBe(200);
    });

    it('a message naming an attachment that is not uploaded, unknown or not yours is refused; no thread', async () => {
      const owner = uniqueUser();
      const other = uniqueUser();
      const pending = await create(h.app, owner, {
        name: 'a.pdf',
        size: PDF.length,
        mime_type: 'application/pdf',
      });
      const notReady = await chatkit(h.app, owner, {
        type: 'threads.create',
        params: { input: userInput('hi', { attachments: [pending.json.id] }) },
      });
      expect(notReady.status).toBe(400);
      expect(notReady.json.code).toBe('attachment_not_ready');
      expect(notReady.json.message).toContain(pending.json.id);

      const ready = await json(await directUpload(h.app, owner, TEXT, 'n.txt', 'text/plain'));
      const stolen = await chatkit(h.app, other, {
        type: 'threads.create',
        params: { input: userInput('hi', { attachments: [ready.id] }) },
      });
      expect(stolen.status).toBe(404);
      expect(stolen.json.message).toContain(ready.id);
      const threads = await chatkit(h.app, other, { type: 'threads.list', params: {} });
      expect(threads.json.data).toHaveLength(0);
      const ownerThreads = await chatkit(h.app, owner, { type: 'threads.list', params: {} });
      expect(ownerThreads.json.data).toHaveLength(0);
    });

    it("another user's attachment is 404 to download or delete, and stays intact", async () => {
      const owner = uniqueUser();
      const other = uniqueUser();
      const { id } = await json(await directUpload(h.app, owner, TEXT, 'n.txt', 'text/plain'));
      expect((await h.app.fetch(`/chatkit/attachments/${id}`, { user: other })).status).toBe(404);
      const del = await chatkit(h.app, other, { type: 'attachments.delete', params: { attachment_id: id } });
      expect(del.status).toBe(404);
      expect(
        (await h.app.fetch(`/chatkit/attachments/${id}`, { method: 'DELETE', user: other })).status,
      ).toBe(404);
      expect((await h.app.fetch(`/chatkit/attachments/${id}`, { user: owner })).status).toBe(200);
      // Same user id in another org is another tenant.
      expect((await h.app.fetch(`/chatkit/attachments/${id}`, { user: owner, org: 'acme' })).status).toBe(
        404,
      );
    });

    it('an attachment already sent in one thread cannot be sent in another', async () => {
      const user = uniqueUser();
      const { id } = await json(await directUpload(h.app, user, TEXT, 'n.txt', 'text/plain'));
      const first = await chatkit(h.app, user, {
        type: 'threads.create',
        params: { input: userInput('one', { attachments: [id] }) },
      });
      expect(first.status).toBe(200);
      const second = await chatkit(h.app, user, {
        type: 'threads.create',
        params: { input: userInput('two', { attachments: [id] }) },
      });
      expect(second.status).toBe(400);
      expect(second.json.code).toBe('attachment_in_use');
      const threads = await chatkit(h.app, user, { type: 'threads.list', params: {} });
      expect(threads.json.data).toHaveLength(1);
    });
  });

  describe('signed links', () => {
    const signer = new UrlSigner({ currentKey: SIGNING_KEY });

    it('refuse a tampered signature, expiry, disposition or id with 403 and store nothing', async () => {
      const user = uniqueUser();
      const created = await create(h.app, user, {
        name: 'n.txt',
        size: TEXT.length,
        mime_type: 'text/plain',
      });
      const url = new URL(created.json.upload_descriptor.url);
      const tamperedSig = new URL(url);
      const sig = url.searchParams.get('sig')!;
      tamperedSig.searchParams.set('sig', sig.slice(0, -2) + (sig.endsWith('AA') ? 'BB' : 'AA'));
      const tamperedExp = new URL(url);
      tamperedExp.searchParams.set('exp', String(Number(url.searchParams.get('exp')) + 3600));
      const unsigned = new URL(url);
      unsigned.search = '';
      for (const bad of [tamperedSig, tamperedExp, unsigned]) {
        const res = await sendBytes({ url: bad.toString(), method: 'PUT' }, TEXT);
        expect(res.status).toBe(403);
        expect((await json(res)).code).toBe('attachment_signature_invalid');
      }
      expect(await keyExists(h.storage, created.json.id)).toBe(false);
      // The real link still works afterwards.
      expect((await sendBytes(created.json.upload_descriptor, TEXT)).status).toBe(200);

      // A download link names one attachment, one disposition.
      const image = await json(await directUpload(h.app, user, PNG, 'p.png', 'image/png'));
      const other = await json(await directUpload(h.app, user, PNG, 'g.png', 'image/png'));
      const preview = new URL(image.preview_url);
      expect((await fetch(preview)).status).toBe(200);
      const wrongId = new URL(preview.toString().replace(image.id, other.id));
      expect((await fetch(wrongId)).status).toBe(403);
      const otherDisp = new URL(preview);
      otherDisp.searchParams.set('disp', 'attachment');
      expect((await fetch(otherDisp)).status).toBe(403);
    });

    it('refuse an expired link with attachment_url_expired', async () => {
      const user = uniqueUser();
      const { id } = await json(await directUpload(h.app, user, PNG, 'g.png', 'image/png'));
      const expired = signer.signedQuery({
        id,
        purpose: 'download',
        expiresAt: new Date(Date.now() - 1000),
        disposition: 'inline',
      });
      const res = await fetch(`${h.app.url}/chatkit/attachments/${id}/content?${expired}`);
      expect(res.status).toBe(403);
      expect((await json(res)).code).toBe('attachment_url_expired');
      // An upload link does not open downloads, and a download link does not take uploads.
      const uploadSig = signer.signedQuery({
        id,
        purpose: 'upload',
        expiresAt: new Date(Date.now() + 60_000),
      });
      expect((await fetch(`${h.app.url}/chatkit/attachments/${id}/content?${uploadSig}`)).status).toBe(403);
    });

    it('serve images inline and everything else as a download, whatever the link asks', async () => {
      const user = uniqueUser();
      const { id } = await json(await directUpload(h.app, user, PDF, 'r.pdf', 'application/pdf'));
      const inline = signer.signedQuery({
        id,
        purpose: 'download',
        expiresAt: new Date(Date.now() + 60_000),
        disposition: 'inline',
      });
      const res = await fetch(`${h.app.url}/chatkit/attachments/${id}/content?${inline}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-disposition')).toMatch(/^attachment;/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('cache-control')).toMatch(/^private/);
      expect(res.headers.get('etag')).toBe(`"${sha256(PDF)}"`);
    });
  });

  describe('downloads', () => {
    let user: string;
    let id: string;
    beforeAll(async () => {
      user = uniqueUser();
      ({ id } = await json(await directUpload(h.app, user, PNG, 'gradient.png', 'image/png')));
    });

    it('answer a byte range with 206 and an unsatisfiable one with 416', async () => {
      const part = await h.app.fetch(`/chatkit/attachments/${id}`, {
        user,
        headers: { Range: 'bytes=8-15' },
      });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 8-15/${PNG.length}`);
      expect(Buffer.compare(await bytesOf(part), PNG.subarray(8, 16))).toBe(0);
      const tail = await h.app.fetch(`/chatkit/attachments/${id}`, { user, headers: { Range: 'bytes=-4' } });
      expect(Buffer.compare(await bytesOf(tail), PNG.subarray(PNG.length - 4))).toBe(0);
      const beyond = await h.app.fetch(`/chatkit/attachments/${id}`, {
        user,
        headers: { Range: `bytes=${PNG.length}-` },
      });
      expect(beyond.status).toBe(416);
      expect(beyond.headers.get('content-range')).toBe(`bytes */${PNG.length}`);
    });

    it('answer If-None-Match with 304 and send the validators', async () => {
      const first = await h.app.fetch(`/chatkit/attachments/${id}`, { user });
      const etag = first.headers.get('etag')!;
      expect(etag).toBe(`"${sha256(PNG)}"`);
      expect(first.headers.get('content-disposition')).toMatch(/^inline; filename="gradient.png"/);
      expect(first.headers.get('content-length')).toBe(String(PNG.length));
      const again = await h.app.fetch(`/chatkit/attachments/${id}`, {
        user,
        headers: { 'If-None-Match': etag },
      });
      expect(again.status).toBe(304);
    });
  });

  describe('lifecycle', () => {
    /** A thread whose stored message holds an image link that has expired. */
    async function threadWithExpiredPreview(user: string): Promise<{ threadId: string; stale: string }> {
      const { id } = await json(await directUpload(h.app, user, PNG, 'g.png', 'image/png'));
      const thread = await chatkit(h.app, user, {
        type: 'threads.create',
        params: { input: userInput('look', { attachments: [id] }) },
      });
      const threadId = thread.events[0].thread.id;
      const stale = `${h.app.url}/chatkit/attachments/${id}/content?${signer().signedQuery({
        id,
        purpose: 'download',
        expiresAt: new Date(Date.now() - 5000),
        disposition: 'inline',
      })}`;
      await h.db.query(
        `UPDATE thread_items SET payload = jsonb_set(payload, '{attachments,0,preview_url}', to_jsonb($2::text))
          WHERE thread_id = $1 AND type = 'user_message'`,
        [threadId, stale],
      );
      return { threadId, stale };
    }

    it('items.list and threads.get_by_id re-sign preview links that have expired', async () => {
      const user = uniqueUser();
      const { threadId, stale } = await threadWithExpiredPreview(user);
      expect((await fetch(stale)).status).toBe(403);

      const items = await chatkit(h.app, user, { type: 'items.list', params: { thread_id: threadId } });
      const fresh = items.json.data.find((i: any) => i.type === 'user_message').attachments[0].preview_url;
      expect(fresh).not.toBe(stale);
      expect((await fetch(fresh)).status).toBe(200);
      const got = await chatkit(h.app, user, { type: 'threads.get_by_id', params: { thread_id: threadId } });
      const viaThread = got.json.items.data.find((i: any) => i.type === 'user_message').attachments[0]
        .preview_url;
      expect((await fetch(viaThread)).status).toBe(200);
    });

    it.each(['/chatkit/threads', '/api/threads'])(
      'GET %s/:id/items answers what items.list answers, links re-signed alike',
      async (base) => {
        const user = uniqueUser();
        const { threadId, stale } = await threadWithExpiredPreview(user);

        const viaProtocol = await chatkit(h.app, user, {
          type: 'items.list',
          params: { thread_id: threadId, order: 'asc' },
        });
        const viaRest = await h.app.fetch(`${base}/${threadId}/items?order=asc`, { user });
        expect(viaRest.status).toBe(200);
        const rest = (await viaRest.json()) as { data: any[]; has_more: boolean };
        // Links are signed at answer time: equal but for their signature and expiry.
        const unsigned = (page: { data: any[] }) =>
          JSON.parse(JSON.stringify(page).replace(/\/content\?[^"]*/g, '/content?<signed>'));
        expect(unsigned(rest)).toEqual(unsigned(viaProtocol.json));
        expect(rest.data.length).toBeGreaterThanOrEqual(2);
        const restLink = rest.data.find((i: any) => i.type === 'user_message').attachments[0].preview_url;
        expect(restLink).not.toBe(stale);
        expect((await fetch(restLink)).status).toBe(200);
      },
    );

    it('the agent reads the bytes of a message attachment', async () => {
      const user = uniqueUser();
      const { id } = await json(await directUpload(h.app, user, PDF, 'r.pdf', 'application/pdf'));
      const reader = h.app.app.get(AttachmentReaderService);
      const read = await reader.read({ id, type: 'file', name: 'r.pdf', mime_type: 'application/pdf' }, MiB);
      expect(read?.mimeType).toBe('application/pdf');
      expect(sha256(read!.data!)).toBe(sha256(PDF));
      expect(
        await reader.read({ id: 'atc_missing', type: 'file', name: 'x', mime_type: 'text/plain' }, MiB),
      ).toBeNull();
    });

    it('attachments.delete removes the record and the bytes', async () => {
      const user = uniqueUser();
      const { id } = await json(await directUpload(h.app, user, TEXT, 'n.txt', 'text/plain'));
      expect(await keyExists(h.storage, id)).toBe(true);
      const res = await chatkit(h.app, user, { type: 'attachments.delete', params: { attachment_id: id } });
      expect(res.status).toBe(200);
      expect(await rowCount(h.db, id)).toBe(0);
      expect(await keyExists(h.storage, id)).toBe(false);
      expect((await h.app.fetch(`/chatkit/attachments/${id}`, { user })).status).toBe(404);
    });

    it('deleting a thread deletes its attachments and nothing else', async () => {
      const user = uniqueUser();
      const a = await json(await directUpload(h.app, user, TEXT, 'n.txt', 'text/plain'));
      const b = await json(await directUpload(h.app, user, PNG, 'g.png', 'image/png'));
      const keep = await json(await directUpload(h.app, user, PDF, 'r.pdf', 'application/pdf'));
      const thread = await chatkit(h.app, user, {
        type: 'threads.create',
        params: { input: userInput('both', { attachments: [a.id, b.id] }) },
      });
      const threadId = thread.events[0].thread.id;
      const del = await chatkit(h.app, user, { type: 'threads.delete', params: { thread_id: threadId } });
      expect(del.status).toBe(200);
      for (const id of [a.id, b.id]) {
        expect(await rowCount(h.db, id)).toBe(0);
        expect(await keyExists(h.storage, id)).toBe(false);
      }
      expect(await rowCount(h.db, keep.id)).toBe(1);
    });

    it('cleanup removes stale pending uploads, unlinked files and orphaned bytes; keeps linked ones', async () => {
      const user = uniqueUser();
      const admin = await tokenFor(uniqueUser('admin'), { roles: ['admin'] });
      const pending = (await create(h.app, user, { name: 'p.pdf', size: 10, mime_type: 'application/pdf' }))
        .json;
      const unlinked = await json(await directUpload(h.app, user, TEXT, 'u.txt', 'text/plain'));
      const linked = await json(await directUpload(h.app, user, PNG, 'l.png', 'image/png'));
      const fresh = await json(await directUpload(h.app, user, TEXT, 'f.txt', 'text/plain'));
      await chatkit(h.app, user, {
        type: 'threads.create',
        params: { input: userInput('keep', { attachments: [linked.id] }) },
      });
      await h.db.query(
        `UPDATE attachments SET created_at = now() - interval '200 hours', ready_at = now() - interval '200 hours'
          WHERE id = ANY($1)`,
        [[pending.id, unlinked.id, linked.id]],
      );
      const orphanId = 'atc_0000000000000000000000000042';
      const { Readable } = await import('node:stream');
      await h.storage.put(`42/${orphanId}`, Readable.from([Buffer.from('left behind')]), {
        contentType: 'text/plain',
        maxBytes: 100,
      });

      const notAdmin = await h.app.fetch('/api/admin/attachments/purge', { method: 'POST', user });
      expect(notAdmin.status).toBe(403);
      expect(await notAdmin.json()).toMatchObject({
        code: 'forbidden',
        message: 'purging attachments requires the admin role',
      });

      const purge = (dry: boolean) =>
        fetch(`${h.app.url}/api/admin/attachments/purge${dry ? '?dry_run=true' : ''}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${admin}` },
        });
      const dry = await json(await purge(true));
      expect(dry.dry_run).toBe(true);
      expect(dry.pending_expired.sample).toContain(pending.id);
      expect(dry.unlinked_expired.sample).toContain(unlinked.id);
      expect(dry.orphaned_objects.sample).toContain(`42/${orphanId}`);
      expect(await rowCount(h.db, pending.id)).toBe(1);
      expect(await keyExists(h.storage, orphanId)).toBe(true);

      const real = await json(await purge(false));
      expect(real.dry_run).toBe(false);
      expect(real.pending_expired.sample).toContain(pending.id);
      expect(real.unlinked_expired.sample).toContain(unlinked.id);
      expect(real.unlinked_expired.sample).not.toContain(linked.id);
      expect(await rowCount(h.db, pending.id)).toBe(0);
      expect(await rowCount(h.db, unlinked.id)).toBe(0);
      expect(await keyExists(h.storage, unlinked.id)).toBe(false);
      expect(await keyExists(h.storage, orphanId)).toBe(false);
      expect(await rowCount(h.db, linked.id)).toBe(1);
      expect(await rowCount(h.db, fresh.id)).toBe(1);
      expect((await h.app.fetch(`/chatkit/attachments/${linked.id}`, { user })).status).toBe(200);
    });
  });

  function signer() {
    return new UrlSigner({ currentKey: SIGNING_KEY });
  }
});

describe('attachments: filesystem storage', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ckg-att-e2e-'));
    h = harness(
      await startApp({
        ATTACHMENTS_STORAGE: 'filesystem',
        ATTACHMENTS_DIR: dir,
        ATTACHMENTS_SIGNING_KEY: SIGNING_KEY,
        ATTACHMENTS_CLEANUP_INTERVAL_S: '0',
      }),
    );
  });
  afterAll(async () => {
    await h.app.close();
    await rm(dir, { recursive: true, force: true });
  });

  describeRoundTrips(() => h);

  it('keeps the bytes under ATTACHMENTS_DIR and nothing for a refused upload', async () => {
    const user = uniqueUser();
    const { id } = await json(await directUpload(h.app, user, TEXT, 'n.txt', 'text/plain'));
    expect(readFileSync(join(dir, id.slice(-2), id)).equals(TEXT)).toBe(true);
    const before = (await storedKeys(h.storage)).length;
    expect((await directUpload(h.app, user, FAKE_PNG, 'x.png', 'image/png')).status).toBe(415);
    expect((await storedKeys(h.storage)).length).toBe(before);
  });
});

describe('attachments: S3 storage (s3rver)', () => {
  let h: Harness;
  let dir: string;
  let server: S3rverInstance;
  let endpoint: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ckg-att-s3-'));
    server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: dir,
      configureBuckets: [{ name: 'chatkit', configs: [] }],
    });
    const { port } = await server.run();
    endpoint = `http://127.0.0.1:${port}`;
    h = harness(
      await startApp({
        ATTACHMENTS_STORAGE: 's3',
        S3_BUCKET: 'chatkit',
        S3_ENDPOINT: endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
        S3_KEY_PREFIX: 'attachments/',
        ATTACHMENTS_SIGNING_KEY: SIGNING_KEY,
        ATTACHMENTS_CLEANUP_INTERVAL_S: '0',
        TRUST_PROXY: 'loopback',
      }),
    );
  });
  afterAll(async () => {
    await h.app.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  describeRoundTrips(() => h);

  it('builds links for the origin the client used, as a trusted proxy reports it', async () => {
    const user = uniqueUser();
    const res = await h.app.fetch('/chatkit', {
      method: 'POST',
      user,
      headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'chat.example.com' },
      json: {
        type: 'attachments.create',
        params: { name: 'g.png', size: PNG.length, mime_type: 'image/png' },
      },
    });
    const attachment = await json(res);
    expect(attachment.upload_descriptor.url).toMatch(
      /^https:\/\/chat\.example\.com\/chatkit\/attachments\/atc_/,
    );
    expect(attachment.preview_url).toMatch(/^https:\/\/chat\.example\.com\/chatkit\/attachments\/atc_/);
  });

  it('a spoofed upload leaves no object in the bucket', async () => {
    const user = uniqueUser();
    const created = await create(h.app, user, {
      name: 'x.png',
      size: FAKE_PNG.length,
      mime_type: 'image/png',
    });
    const res = await sendBytes(created.json.upload_descriptor, FAKE_PNG, { raw: true });
    expect(res.status).toBe(415);
    expect(await keyExists(h.storage, created.json.id)).toBe(false);
    expect(await rowCount(h.db, created.json.id)).toBe(0);
  });
});

describe('attachments: S3 presigned uploads', () => {
  let h: Harness;
  let dir: string;
  let server: S3rverInstance;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ckg-att-s3p-'));
    server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: dir,
      configureBuckets: [{ name: 'chatkit', configs: [] }],
    });
    const { port } = await server.run();
    h = harness(
      await startApp({
        ATTACHMENTS_STORAGE: 's3',
        S3_BUCKET: 'chatkit',
        S3_ENDPOINT: `http://127.0.0.1:${port}`,
        S3_FORCE_PATH_STYLE: 'true',
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
        ATTACHMENTS_S3_PRESIGNED_UPLOADS: 'true',
        ATTACHMENTS_SIGNING_KEY: SIGNING_KEY,
        ATTACHMENTS_CLEANUP_INTERVAL_S: '0',
      }),
    );
  });
  afterAll(async () => {
    await h.app.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the client PUTs straight to the bucket; the bytes are checked when the message is sent', async () => {
    const user = uniqueUser();
    const created = await create(h.app, user, { name: 'g.png', size: PNG.length, mime_type: 'image/png' });
    const descriptor = created.json.upload_descriptor;
    expect(descriptor.url.startsWith(h.app.url)).toBe(false);
    expect(descriptor.headers).toEqual({ 'Content-Type': 'image/png' });
    const put = await fetch(descriptor.url, { method: 'PUT', headers: descriptor.headers, body: PNG });
    expect(put.status).toBe(200);
    const thread = await chatkit(h.app, user, {
      type: 'threads.create',
      params: { input: userInput('see', { attachments: [created.json.id] }) },
    });
    expect(thread.status).toBe(200);
    const res = await h.app.fetch(`/chatkit/attachments/${created.json.id}`, { user });
    expect(res.headers.get('etag')).toBe(`"${sha256(PNG)}"`);
    expect(sha256(await bytesOf(res))).toBe(sha256(PNG));
  });

  it('spoofed bytes sent to the bucket are refused when the message is sent, and removed', async () => {
    const user = uniqueUser();
    const created = await create(h.app, user, {
      name: 'x.png',
      size: FAKE_PNG.length,
      mime_type: 'image/png',
    });
    const descriptor = created.json.upload_descriptor;
    await fetch(descriptor.url, { method: 'PUT', headers: descriptor.headers, body: FAKE_PNG });
    const thread = await chatkit(h.app, user, {
      type: 'threads.create',
      params: { input: userInput('see', { attachments: [created.json.id] }) },
    });
    expect(thread.status).toBe(415);
    expect(await rowCount(h.db, created.json.id)).toBe(0);
    expect(await keyExists(h.storage, created.json.id)).toBe(false);
  });
});

describe('attachments: the quota under concurrent uploads, and the agent reading within its limit', () => {
  let h: Harness;
  beforeAll(async () => {
    h = harness(
      await startApp({
        ATTACHMENTS_SIGNING_KEY: SIGNING_KEY,
        CHATKIT_ATTACHMENT_MAX_MB: '4',
        ATTACHMENTS_USER_QUOTA_MB: '8',
        ATTACHMENTS_CLEANUP_INTERVAL_S: '0',
      }),
    );
  });
  afterAll(() => h.app.close());

  /** What the user's records add up to, as the quota counts it, and how many are still pending. */
  async function holdings(user: string): Promise<{ total: number; pending: number }> {
    const rows: Array<{ total: string; pending: string }> = await h.db.query(
      `SELECT COALESCE(SUM(size), 0) AS total, COUNT(*) FILTER (WHERE status = 'pending') AS pending
         FROM attachments WHERE user_id = $1`,
      [user],
    );
    return { total: Number(rows[0].total), pending: Number(rows[0].pending) };
  }

  it('direct uploads racing for the quota: the accepted ones fit in it, the others get 413', async () => {
    const user = uniqueUser();
    // 3 MiB each: any one fits the 8 MiB quota and the 4 MiB limit, all five together do not.
    const results = await Promise.all(
      [0, 1, 2, 3, 4].map(async (i) => {
        const bytes = Buffer.alloc(3 * MiB, String.fromCharCode(0x61 + i));
        const res = await directUpload(h.app, user, bytes, `f${i}.txt`, 'text/plain');
        return { status: res.status, body: await json(res) };
      }),
    );

    const accepted = results.filter((r) => r.status === 200);
    expect(accepted).toHaveLength(2);
    for (const refused of results.filter((r) => r.status !== 200)) {
      expect(refused.status).toBe(413);
      expect(refused.body.code).toBe('attachment_quota_exceeded');
    }
    expect(await holdings(user)).toEqual({ total: 6 * MiB, pending: 0 });
    const listed = await Promise.all(
      accepted.map(
        async (r) => (await bytesOf(await h.app.fetch(`/chatkit/attachments/${r.body.id}`, { user }))).length,
      ),
    );
    expect(listed).toEqual([3 * MiB, 3 * MiB]);

    // What the refused uploads had reserved was given back: the rest of the quota still takes a file.
    const small = await directUpload(h.app, user, Buffer.alloc(MiB, 'z'), 'small.txt', 'text/plain');
    expect(small.status).toBe(200);
    expect(await holdings(user)).toEqual({ total: 7 * MiB, pending: 0 });
  });

  it('attachments.create racing for the quota: only the reservations that fit are made', async () => {
    const user = uniqueUser();
    const results = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) =>
        create(h.app, user, { name: `p${i}.pdf`, size: 3 * MiB, mime_type: 'application/pdf' }),
      ),
    );

    expect(results.filter((r) => r.status === 200)).toHaveLength(2);
    for (const refused of results.filter((r) => r.status !== 200)) {
      expect(refused.status).toBe(413);
      expect(refused.json.code).toBe('attachment_quota_exceeded');
    }
    expect(await holdings(user)).toEqual({ total: 6 * MiB, pending: 2 });
  });

  it('two-phase reservations and direct uploads racing each other stay within the quota', async () => {
    const user = uniqueUser();
    const results = await Promise.all([
      ...[0, 1, 2].map(async (i) => {
        const res = await create(h.app, user, {
          name: `p${i}.pdf`,
          size: 3 * MiB,
          mime_type: 'application/pdf',
        });
        return { status: res.status, code: res.json.code as string | undefined };
      }),
      ...[0, 1, 2].map(async (i) => {
        const res = await directUpload(h.app, user, Buffer.alloc(3 * MiB, 'd'), `d${i}.txt`, 'text/plain');
        return { status: res.status, code: (await json(res)).code as string | undefined };
      }),
    ]);

    expect(results.filter((r) => r.status === 200)).toHaveLength(2);
    for (const refused of results.filter((r) => r.status !== 200)) {
      expect(refused).toEqual({ status: 413, code: 'attachment_quota_exceeded' });
    }
    const held = await holdings(user);
    expect(held.total).toBe(6 * MiB);
  });

  it('the agent reader answers a file over its limit with the size alone, never fetching the bytes', async () => {
    const user = uniqueUser();
    const big = Buffer.alloc(2 * MiB, 'q');
    const { id } = await json(await directUpload(h.app, user, big, 'big.txt', 'text/plain'));
    const reader = h.app.app.get(AttachmentReaderService);
    const attachment = { id, type: 'file' as const, name: 'big.txt', mime_type: 'text/plain' };
    const get = jest.spyOn(h.storage, 'get');
    try {
      const over = await reader.read(attachment, MiB);
      expect(over).toEqual({ mimeType: expect.stringMatching(/^text\/plain/), data: null, size: 2 * MiB });
      expect(get).not.toHaveBeenCalled();

      const within = await reader.read(attachment, 2 * MiB);
      expect(within?.data?.equals(big)).toBe(true);
      expect(get).toHaveBeenCalledTimes(1);
    } finally {
      get.mockRestore();
    }
  });
});

describe('attachments: downloads have a rate-limit budget of their own', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({
      ATTACHMENTS_SIGNING_KEY: SIGNING_KEY,
      ATTACHMENTS_CLEANUP_INTERVAL_S: '0',
      RATE_LIMIT_MAX: '5',
      RATE_LIMIT_DOWNLOADS_MAX: '8',
      RATE_LIMIT_WINDOW_S: '60',
    });
  });
  afterAll(() => app.close());

  it('serves more previews than the API budget allows, stops at the download budget, and leaves the API budget alone', async () => {
    const user = uniqueUser();
    const uploaded = await directUpload(app, user, PNG, 'gradient.png', 'image/png');
    expect(uploaded.status).toBe(200);
    const { id, preview_url: previewUrl } = await json(uploaded);

    // Eight previews by signed link: more than the API budget of five, all served.
    const previews: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await fetch(previewUrl);
      await res.arrayBuffer();
      previews.push(res.status);
    }
    expect(previews).toEqual(Array(8).fill(200));
    const refused = await fetch(previewUrl);
    expect(refused.status).toBe(429);
    expect(await json(refused)).toMatchObject({ code: 'rate_limited' });

    // The user's API calls were not spent by the downloads (one upload so far of five).
    const api: number[] = [];
    for (let i = 0; i < 4; i++) api.push((await app.fetch('/api/me', { user })).status);
    expect(api).toEqual([200, 200, 200, 200]);
    expect((await app.fetch('/api/me', { user })).status).toBe(429);

    // The owner's own download route draws on the download budget, under the user's key.
    const own = await app.fetch(`/chatkit/attachments/${id}`, { user });
    expect(own.status).toBe(200);
    expect(own.headers.get('x-ratelimit-limit-downloads')).toBe('8');
  });
});
