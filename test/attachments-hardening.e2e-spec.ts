/**
 * Attachment edge cases over real HTTP against the real AppModule and PostgreSQL: two uploads
 * racing for one upload URL, an upload that died midway, file names outside ASCII, Office files
 * whose container does not hold the document they claim, non-canonical URL signatures, and the
 * admin purge seen by an admin of one org.
 *
 * One app at a time: the embedded test database takes a single connection.
 */
import * as CFB from 'cfb';
import { zipSync, strToU8 } from 'fflate';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchedulerRegistry } from '@nestjs/schedule';
import { DataSource } from 'typeorm';
import { ATTACHMENT_STORAGE, type AttachmentStorage } from 'src/attachments/storage/attachment-storage';
import { chatkit, userInput } from 'test/support/chatkit-client';
import { startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';

const SIGNING_KEY = 'attachment-signing-key-for-tests-0123456789abcdef';
const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const PPTX = 'application/vnd.openxmlformats-officedocument.presentationml.presentation';

const json = (res: Response): Promise<any> => res.json();
const sha256 = (data: Buffer | Uint8Array) => createHash('sha256').update(data).digest('hex');
const bytesOf = async (res: Response) => Buffer.from(await res.arrayBuffer());

interface Harness {
  app: TestApp;
  db: DataSource;
  storage: AttachmentStorage;
}

function harness(app: TestApp): Harness {
  return { app, db: app.app.get(DataSource), storage: app.app.get<AttachmentStorage>(ATTACHMENT_STORAGE) };
}

async function create(app: TestApp, user: string, params: { name: string; size: number; mime_type: string }) {
  const res = await chatkit(app, user, { type: 'attachments.create', params });
  expect(res.status).toBe(200);
  return res.json as { id: string; upload_descriptor: { url: string; method: string } };
}

function putRaw(url: string, bytes: Buffer): Promise<Response> {
  return fetch(url, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: bytes,
  });
}

async function directUpload(
  app: TestApp,
  user: string,
  bytes: Buffer | Uint8Array,
  name: string,
  type: string,
) {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), name);
  return app.fetch('/chatkit/attachments', { method: 'POST', user, body: form });
}

/** A multipart body written by hand, for part headers FormData cannot produce. */
async function directRaw(app: TestApp, user: string, disposition: string, body: Buffer, type = 'text/plain') {
  const boundary = '----ckgboundary7MA4YWxkTrZu0gW';
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; `),
    Buffer.from(disposition, 'utf8'),
    Buffer.from(`\r\nContent-Type: ${type}\r\n\r\n`),
    body,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return app.fetch('/chatkit/attachments', {
    method: 'POST',
    user,
    headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
    body: payload,
  });
}

async function status(db: DataSource, id: string): Promise<string | undefined> {
  const rows: Array<{ status: string }> = await db.query(`SELECT status FROM attachments WHERE id = $1`, [
    id,
  ]);
  return rows[0]?.status;
}

async function storedKeysFor(storage: AttachmentStorage, id: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of storage.list()) if (key.includes(id)) keys.push(key);
  return keys;
}

/** Text bodies of one size but different content, large enough for two uploads to overlap. */
function textBody(tag: string, size = 256 * 1024): Buffer {
  return Buffer.from(`${tag}\n${randomBytes(size).toString('hex')}`.slice(0, size));
}

/** Sends half of a raw upload, then hangs up. Resolves once the socket is gone. */
function abortedUpload(url: string, total: number, sent: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(url, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(total) },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(sent, () => setTimeout(() => req.destroy(), 200));
  });
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------- fixtures

function ooxml(parts: Record<string, string>): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [name, text] of Object.entries(parts)) files[name] = strToU8(text);
  return zipSync(files);
}

const CONTENT_TYPES = `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>`;
const RELS = `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>`;

const MINIMAL_DOCX = ooxml({
  '[Content_Types].xml': CONTENT_TYPES,
  '_rels/.rels': RELS,
  'word/document.xml': '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>',
});
const MINIMAL_XLSX = ooxml({
  '[Content_Types].xml': CONTENT_TYPES,
  '_rels/.rels': RELS,
  'xl/workbook.xml': '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>',
});
const MINIMAL_PPTX = ooxml({
  '[Content_Types].xml': CONTENT_TYPES,
  '_rels/.rels': RELS,
  'ppt/presentation.xml':
    '<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>',
});
const PLAIN_ZIP = ooxml({ 'notes/readme.txt': 'not a document', 'data.csv': 'a,b\n1,2\n' });

function compoundFile(streams: string[]): Buffer {
  const container = CFB.utils.cfb_new();
  for (const name of streams) CFB.utils.cfb_add(container, `/${name}`, Buffer.alloc(600, 7));
  return CFB.write(container, { type: 'buffer' }) as Buffer;
}

const MINIMAL_DOC = compoundFile(['WordDocument', '1Table']);
const MINIMAL_XLS = compoundFile(['Workbook']);
const BARE_CFB = compoundFile(['Contents']);

// ---------------------------------------------------------------------------------- the suites

/** The upload-URL race, on one storage driver. */
function describeConcurrentUploads(h: () => Harness) {
  it('two uploads to one upload URL at once: one 200, the other 409, the first bytes survive', async () => {
    const { app, db } = h();
    for (let round = 0; round < 5; round++) {
      const user = uniqueUser();
      const a = textBody('first');
      const b = textBody('second');
      const created = await create(app, user, { name: 'race.txt', size: a.length, mime_type: 'text/plain' });
      const url = created.upload_descriptor.url;
      const [ra, rb] = await Promise.all([putRaw(url, a), putRaw(url, b)]);
      const answers = [
        { res: ra, bytes: a, body: await json(ra) },
        { res: rb, bytes: b, body: await json(rb) },
      ];
      expect(answers.map((x) => x.res.status).sort()).toEqual([200, 409]);
      const winner = answers.find((x) => x.res.status === 200)!;
      const loser = answers.find((x) => x.res.status === 409)!;
      expect(['attachment_upload_in_progress', 'attachment_already_uploaded']).toContain(loser.body.code);
      expect(winner.body).toMatchObject({ id: created.id, name: 'race.txt' });

      expect(await status(db, created.id)).toBe('ready');
      const rows: Array<{ sha256: string }> = await db.query(`SELECT sha256 FROM attachments WHERE id = $1`, [
        created.id,
      ]);
      expect(rows[0].sha256.trim()).toBe(sha256(winner.bytes));
      const download = await app.fetch(`/chatkit/attachments/${created.id}`, { user });
      expect(download.status).toBe(200);
      expect(sha256(await bytesOf(download))).toBe(sha256(winner.bytes));

      // A third attempt after the fact is told the file is already there.
      const late = await putRaw(url, a);
      expect(late.status).toBe(409);
      expect((await json(late)).code).toBe('attachment_already_uploaded');
    }
  });

  it('an upload cut off midway lets a retry to the same URL succeed', async () => {
    const { app, db, storage } = h();
    const user = uniqueUser();
    const body = textBody('retry', 512 * 1024);
    const created = await create(app, user, {
      name: 'retry.txt',
      size: body.length,
      mime_type: 'text/plain',
    });
    await abortedUpload(created.upload_descriptor.url, body.length, body.subarray(0, 128 * 1024));
    // The server lets go of the attachment once it noticed the client left.
    await waitFor(
      async () => (await status(db, created.id)) === 'pending',
      'the upload claim to be released',
    );
    const retry = await putRaw(created.upload_descriptor.url, body);
    expect(retry.status).toBe(200);
    const download = await app.fetch(`/chatkit/attachments/${created.id}`, { user });
    expect(sha256(await bytesOf(download))).toBe(sha256(body));
    // Only the retry's bytes remain stored.
    expect(await storedKeysFor(storage, created.id)).toHaveLength(1);
  });
}

describe('attachments hardening: PostgreSQL storage (default)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = harness(
      await startApp({
        ATTACHMENTS_SIGNING_KEY: SIGNING_KEY,
        CHATKIT_ATTACHMENT_MAX_MB: '4',
        ATTACHMENTS_CLEANUP_INTERVAL_S: '0',
      }),
    );
  });
  afterAll(() => h.app.close());

  describe('one upload URL, one file', () => {
    describeConcurrentUploads(() => h);

    it('an upload claim left by a crashed process expires, and a retry succeeds', async () => {
      const user = uniqueUser();
      const body = textBody('crash', 1024);
      const created = await create(h.app, user, {
        name: 'c.txt',
        size: body.length,
        mime_type: 'text/plain',
      });
      // What a process that died mid-upload leaves: the claim, taken long ago, never released.
      await h.db.query(
        `UPDATE attachments SET status = 'uploading', updated_at = now() - interval '1 hour' WHERE id = $1`,
        [created.id],
      );
      const retry = await putRaw(created.upload_descriptor.url, body);
      expect(retry.status).toBe(200);
      expect(await status(h.db, created.id)).toBe('ready');
    });

    it('an upload claimed moments ago by another request answers 409 attachment_upload_in_progress', async () => {
      const user = uniqueUser();
      const body = textBody('busy', 1024);
      const created = await create(h.app, user, {
        name: 'b.txt',
        size: body.length,
        mime_type: 'text/plain',
      });
      await h.db.query(`UPDATE attachments SET status = 'uploading', updated_at = now() WHERE id = $1`, [
        created.id,
      ]);
      const res = await putRaw(created.upload_descriptor.url, body);
      expect(res.status).toBe(409);
      expect((await json(res)).code).toBe('attachment_upload_in_progress');
      expect(await status(h.db, created.id)).toBe('uploading');
    });
  });

  describe('file names', () => {
    it('a multipart upload named résumé.txt keeps its name in the attachment and the download', async () => {
      const user = uniqueUser();
      const res = await directUpload(h.app, user, Buffer.from('bonjour\n'), 'résumé.txt', 'text/plain');
      expect(res.status).toBe(200);
      const attachment = await json(res);
      expect(attachment.name).toBe('résumé.txt');
      const download = await h.app.fetch(`/chatkit/attachments/${attachment.id}`, { user });
      expect(download.headers.get('content-disposition')).toBe(
        `attachment; filename="r_sum_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt`,
      );
      // The stored message carries the same name.
      const thread = await chatkit(h.app, user, {
        type: 'threads.create',
        params: { input: userInput('read it', { attachments: [attachment.id] }) },
      });
      expect(thread.status).toBe(200);
      const message = thread.events.find(
        (e) => e.type === 'thread.item.done' && e.item.type === 'user_message',
      );
      expect(message.item.attachments[0].name).toBe('résumé.txt');
    });

    it('an RFC 5987 filename* names the file', async () => {
      const user = uniqueUser();
      const res = await directRaw(
        h.app,
        user,
        `filename*=UTF-8''na%C3%AFve%20%E2%82%AC.txt`,
        Buffer.from('x\n'),
      );
      expect(res.status).toBe(200);
      expect((await json(res)).name).toBe('naïve €.txt');
    });

    it('control characters and direction overrides are removed from a name; an invalid sequence is replaced', async () => {
      const user = uniqueUser();
      const control = await directRaw(
        h.app,
        user,
        `filename*=UTF-8''a%01b%7Fc%C2%85d.txt`,
        Buffer.from('x\n'),
      );
      expect(control.status).toBe(200);
      expect((await json(control)).name).toBe('abcd.txt');
      const bidi = await directRaw(
        h.app,
        user,
        `filename*=UTF-8''invoice%E2%80%AEtxt.exe.txt`,
        Buffer.from('x\n'),
      );
      expect(bidi.status).toBe(200);
      expect((await json(bidi)).name).toBe('invoicetxt.exe.txt');
      // A lone surrogate (ED A0 80) is not UTF-8; it becomes U+FFFD, never a 500.
      const surrogate = await directRaw(h.app, user, `filename*=UTF-8''x%ED%A0%80y.txt`, Buffer.from('x\n'));
      expect(surrogate.status).toBe(200);
      const name: string = (await json(surrogate)).name;
      expect(name.startsWith('x') && name.endsWith('y.txt')).toBe(true);
      expect(name).not.toMatch(/[\uD800-\uDFFF]/);
      // A raw NUL byte in the part's headers is a broken body, not a name to clean.
      const nul = await directRaw(h.app, user, 'filename="n\u0000ul.txt"', Buffer.from('x\n'));
      const refused = await json(nul);
      expect(nul.status).toBe(400);
      expect(refused).toMatchObject({
        code: 'attachment_bad_body',
        message: expect.stringContaining('part header'),
      });
    });
  });

  describe('Office files are checked inside their container', () => {
    it('a plain ZIP named .docx/.xlsx/.pptx and a bare compound file named .doc/.xls/.ppt are refused', async () => {
      const user = uniqueUser();
      for (const [name, type] of [
        ['fake.docx', DOCX],
        ['fake.xlsx', XLSX],
        ['fake.pptx', PPTX],
      ]) {
        const res = await directUpload(h.app, user, PLAIN_ZIP, name, type);
        expect(res.status).toBe(415);
        expect((await json(res)).code).toBe('attachment_type_mismatch');
      }
      // The right container, the wrong document: a workbook is not a Word file.
      const swapped = await directUpload(h.app, user, MINIMAL_XLSX, 'swapped.docx', DOCX);
      expect(swapped.status).toBe(415);
      for (const [name, type] of [
        ['fake.doc', 'application/msword'],
        ['fake.xls', 'application/vnd.ms-excel'],
        ['fake.ppt', 'application/vnd.ms-powerpoint'],
      ]) {
        const res = await directUpload(h.app, user, BARE_CFB, name, type);
        expect(res.status).toBe(415);
        expect((await json(res)).code).toBe('attachment_type_mismatch');
      }
      const rows: unknown[] = await h.db.query(`SELECT 1 FROM attachments WHERE user_id = $1`, [user]);
      expect(rows).toHaveLength(0);
    });

    it('a two-phase upload of a ZIP declared as .docx is refused and leaves nothing behind', async () => {
      const user = uniqueUser();
      const created = await create(h.app, user, { name: 'x.docx', size: PLAIN_ZIP.length, mime_type: DOCX });
      const res = await putRaw(created.upload_descriptor.url, Buffer.from(PLAIN_ZIP));
      expect(res.status).toBe(415);
      expect(await status(h.db, created.id)).toBeUndefined();
      expect(await storedKeysFor(h.storage, created.id)).toEqual([]);
    });

    it('real minimal .docx, .xlsx, .pptx, .doc and .xls files are accepted and served back intact', async () => {
      const user = uniqueUser();
      for (const [bytes, name, type] of [
        [MINIMAL_DOCX, 'a.docx', DOCX],
        [MINIMAL_XLSX, 'a.xlsx', XLSX],
        [MINIMAL_PPTX, 'a.pptx', PPTX],
        [MINIMAL_DOC, 'a.doc', 'application/msword'],
        [MINIMAL_XLS, 'a.xls', 'application/vnd.ms-excel'],
      ] as const) {
        const res = await directUpload(h.app, user, bytes, name, type);
        expect({ name, status: res.status }).toEqual({ name, status: 200 });
        const { id } = await json(res);
        const download = await h.app.fetch(`/chatkit/attachments/${id}`, { user });
        expect(sha256(await bytesOf(download))).toBe(sha256(bytes));
      }
    });
  });

  describe('signed links', () => {
    it('only the canonical spelling of a signature opens a link', async () => {
      const user = uniqueUser();
      const png = Buffer.from(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPj/HwADAgH/eL9GtQAAAABJRU5ErkJggg==',
        'base64',
      );
      const res = await directUpload(h.app, user, png, 'dot.png', 'image/png');
      expect(res.status).toBe(200);
      const preview = new URL((await json(res)).preview_url);
      expect((await fetch(preview)).status).toBe(200);
      const sig = preview.searchParams.get('sig')!;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(sig[sig.length - 1]);
      // The last of 43 characters carries 4 bits of the MAC and 2 unused ones: 3 other spellings.
      for (const unused of [1, 2, 3]) {
        const variant = new URL(preview);
        variant.searchParams.set('sig', sig.slice(0, -1) + alphabet[last ^ unused]);
        const answer = await fetch(variant);
        expect(answer.status).toBe(403);
        expect((await json(answer)).code).toBe('attachment_signature_invalid');
      }
    });
  });

  describe('the admin purge of an org admin', () => {
    it('a dry run lists only their org, and the purge leaves other orgs alone; a global admin sees all', async () => {
      const orgA = `org-${uniqueUser()}`;
      const orgB = `org-${uniqueUser()}`;
      const userA = uniqueUser();
      const userB = uniqueUser();
      const pending = async (user: string, org: string) => {
        const res = await h.app.fetch('/chatkit', {
          method: 'POST',
          user,
          org,
          json: {
            type: 'attachments.create',
            params: { name: 'p.pdf', size: 10, mime_type: 'application/pdf' },
          },
        });
        expect(res.status).toBe(200);
        return (await json(res)).id as string;
      };
      const idA = await pending(userA, orgA);
      const idB = await pending(userB, orgB);
      await h.db.query(
        `UPDATE attachments SET created_at = now() - interval '200 hours' WHERE id = ANY($1)`,
        [[idA, idB]],
      );
      const purge = async (token: string, dry: boolean) => {
        const res = await fetch(`${h.app.url}/api/admin/attachments/purge${dry ? '?dry_run=true' : ''}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}` },
        });
        expect(res.status).toBe(200);
        return json(res);
      };
      const adminA = await tokenFor(uniqueUser('admin'), { roles: ['admin'], org: orgA });
      const globalAdmin = await tokenFor(uniqueUser('admin'), { roles: ['admin'] });

      const dryA = await purge(adminA, true);
      expect(dryA.pending_expired.sample).toContain(idA);
      expect(dryA.pending_expired.sample).not.toContain(idB);
      expect(dryA.pending_expired.count).toBe(1);
      const dryGlobal = await purge(globalAdmin, true);
      expect(dryGlobal.pending_expired.sample).toEqual(expect.arrayContaining([idA, idB]));

      const realA = await purge(adminA, false);
      expect(realA.pending_expired.sample).toEqual([idA]);
      expect(await status(h.db, idA)).toBeUndefined();
      expect(await status(h.db, idB)).toBe('pending');
    });
  });
});

describe('attachments hardening: filesystem storage', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ckg-attach-hard-'));
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

  describeConcurrentUploads(() => h);
});

describe('attachments hardening: the cleanup sweep is on the app scheduler', () => {
  const timers = (app: TestApp) => {
    const registry = app.app.get(SchedulerRegistry);
    return { timeouts: registry.getTimeouts(), intervals: registry.getIntervals() };
  };

  it('schedules the first sweep when an interval is configured and stops it at shutdown', async () => {
    const app = await startApp({
      ATTACHMENTS_SIGNING_KEY: SIGNING_KEY,
      ATTACHMENTS_CLEANUP_INTERVAL_S: '3600',
    });
    try {
      expect(timers(app)).toEqual({ timeouts: ['attachments.cleanup.first'], intervals: [] });
    } finally {
      await app.close();
    }
    expect(timers(app)).toEqual({ timeouts: [], intervals: [] });
  });

  it('schedules nothing when the interval is 0', async () => {
    const app = await startApp({ ATTACHMENTS_SIGNING_KEY: SIGNING_KEY, ATTACHMENTS_CLEANUP_INTERVAL_S: '0' });
    try {
      expect(timers(app)).toEqual({ timeouts: [], intervals: [] });
    } finally {
      await app.close();
    }
  });
});
