/**
 * The API contract: the committed docs/openapi.json is exactly what the app serves, it is valid
 * OpenAPI 3.1, it names every protocol request, event, item and update, every route says what it
 * answers and every error answer is an ErrorResponse, the examples are valid protocol values, and
 * the sample client written against it works against the real app.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode } from 'src/common/app.exception';
import {
  CHATKIT_REQUEST_EXAMPLES,
  STREAM_EXAMPLE_EVENTS,
  THREAD_PAGE_EXAMPLE,
  streamExample,
} from 'src/openapi/chatkit.operation';
import { OPENAPI_ENV } from 'src/openapi/openapi.cli';
import { serializeOpenApiDocument } from 'src/openapi/openapi.document';
import { ErrorResponseSchema } from 'src/openapi/rest.schemas';
import {
  CHATKIT_REQUEST_TYPES,
  ChatKitRequestSchema,
  ThreadItemSchema,
  ThreadItemUpdateSchema,
  ThreadPageSchema,
  ThreadStreamEventSchema,
} from 'src/protocol/chatkit.schemas';
import { startApp, type TestApp } from 'test/support/test-app';

const COMMITTED = join(__dirname, '..', 'docs', 'openapi.json');
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

type Json = Record<string, any>;

function operations(doc: Json): Array<[string, Json]> {
  return Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m): [string, Json] => [`${m.toUpperCase()} ${path}`, item[m]]),
  );
}

/**
 * Problems Redocly CLI finds in `doc` with the rules of redocly.yaml (recommended): the same tool
 * and rules as `npm run lint:openapi`, on the document the app serves.
 */
async function redoclyErrors(doc: Json): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const cli = join(__dirname, '..', 'node_modules', '.bin', 'redocly');
    const stdout = await promisify(execFile)(cli, ['lint', file, '--format=json'], {
      cwd: join(__dirname, '..'),
    })
      .then((r) => r.stdout)
      // Redocly exits with 1 when it finds errors; the report is on stdout either way.
      .catch((err: { stdout?: string }) => err.stdout ?? '');
    const report = JSON.parse(stdout) as {
      problems: Array<{
        ruleId: string;
        severity: string;
        message: string;
        location: Array<{ pointer: string }>;
      }>;
    };
    return report.problems
      .filter((p) => p.severity === 'error')
      .map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The discriminator values of a zod discriminated union. */
function typesOf(union: { options: ReadonlyArray<{ shape: { type: { value: string } } }> }): string[] {
  return union.options.map((o) => o.shape.type.value).sort();
}

describe('the committed OpenAPI document (production configuration)', () => {
  let app: TestApp;
  let served: Json;
  beforeAll(async () => {
    app = await startApp(OPENAPI_ENV);
    served = (await (await fetch(`${app.url}/docs-json`)).json()) as Json;
  });
  afterAll(() => app.close());

  it('is exactly what the app serves', () => {
    const committed = readFileSync(COMMITTED, 'utf8');
    const current = serializeOpenApiDocument(served as never);
    if (committed !== current) {
      const a = committed.split('\n');
      const b = current.split('\n');
      const line = a.findIndex((l, i) => l !== b[i]);
      throw new Error(
        `docs/openapi.json is out of date (first difference at line ${line + 1}:\n` +
          `  committed: ${a[line]}\n  app:       ${b[line]}).\n` +
          'Regenerate it with `npm run openapi`, check it with `npm run lint:openapi`, and commit it.',
      );
    }
  });

  it('is valid OpenAPI 3.1 (structure and Redocly recommended rules, no errors)', async () => {
    expect(served.openapi).toBe('3.1.0');
    expect(await redoclyErrors(served)).toEqual([]);
  });

  it('names every ChatKit request type, discriminated on `type`', () => {
    const union = served.components.schemas.ChatKitRequest;
    expect(union.discriminator.propertyName).toBe('type');
    expect(Object.keys(union.discriminator.mapping).sort()).toEqual([...CHATKIT_REQUEST_TYPES].sort());
    for (const [type, ref] of Object.entries(union.discriminator.mapping as Record<string, string>)) {
      const name = ref.split('/').pop() as string;
      expect(served.components.schemas[name].properties.type.const).toBe(type);
    }
    expect(served.components.schemas.ThreadsCreateRequest).toBeDefined();
    const body = served.paths['/chatkit'].post.requestBody.content['application/json'];
    expect(body.schema).toEqual({ $ref: '#/components/schemas/ChatKitRequest' });
  });

  it('names every stream event, thread item and item update', () => {
    const mapping = (name: string) =>
      Object.keys(served.components.schemas[name].discriminator.mapping as object).sort();
    expect(mapping('ThreadStreamEvent')).toEqual(typesOf(ThreadStreamEventSchema));
    expect(mapping('ThreadItem')).toEqual(typesOf(ThreadItemSchema));
    expect(mapping('ThreadItemUpdate')).toEqual(typesOf(ThreadItemUpdateSchema));
    const chatkit = served.paths['/chatkit'].post.responses['200'].content;
    expect(chatkit['text/event-stream'].schema).toEqual({ $ref: '#/components/schemas/ThreadStreamEvent' });
    expect(chatkit['application/json'].schema.anyOf).toContainEqual({
      $ref: '#/components/schemas/ThreadPage',
    });
  });

  it('describes a body for every successful answer and an ErrorResponse for every error', () => {
    const ops = operations(served);
    expect(ops.length).toBeGreaterThanOrEqual(23);
    for (const [name, op] of ops) {
      const statuses = Object.keys(op.responses);
      const success = statuses.filter((s) => s.startsWith('2'));
      expect([name, success.length > 0]).toEqual([name, true]);
      for (const status of success.filter((s) => s !== '204')) {
        expect([name, status, Object.keys(op.responses[status].content ?? {}).length > 0]).toEqual([
          name,
          status,
          true,
        ]);
      }
      for (const status of statuses.filter((s) => Number(s) >= 400)) {
        expect([name, status, op.responses[status].content]).toEqual([
          name,
          status,
          { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
        ]);
      }
    }
    expect(served.components.schemas.ErrorResponse.properties.code.enum).toEqual(
      expect.arrayContaining(Object.values(ErrorCode)),
    );
  });

  it('offers the upload targets as a file form (POST) and a binary body (PUT)', () => {
    const upload = served.paths['/chatkit/attachments/{id}/upload'];
    expect(upload.post.requestBody.content['multipart/form-data'].schema).toEqual({
      type: 'object',
      required: ['file'],
      properties: { file: { type: 'string', format: 'binary' } },
    });
    expect(Object.keys(upload.put.requestBody.content)[0]).toBe('application/octet-stream');
    expect(upload.put.requestBody.content['application/octet-stream'].schema).toEqual({
      type: 'string',
      format: 'binary',
    });
    expect(
      served.paths['/chatkit/attachments'].post.requestBody.content['multipart/form-data'],
    ).toBeDefined();
  });

  it('takes only the bearer token outside development mode', () => {
    expect(Object.keys(served.components.securitySchemes)).toEqual(['bearer']);
    expect(served.paths['/api/threads'].get.security).toEqual([{ bearer: [] }]);
    expect(served.paths['/health/live'].get.security).toEqual([]);
  });

  it('carries examples that are valid protocol values', () => {
    for (const example of Object.values(CHATKIT_REQUEST_EXAMPLES)) ChatKitRequestSchema.parse(example);
    ThreadPageSchema.parse(THREAD_PAGE_EXAMPLE);
    for (const event of STREAM_EXAMPLE_EVENTS) ThreadStreamEventSchema.parse(event);
    const frames = streamExample().split('\n\n').filter(Boolean);
    expect(frames).toHaveLength(STREAM_EXAMPLE_EVENTS.length);
    for (const example of ErrorResponseSchema.meta()?.examples as unknown[])
      ErrorResponseSchema.parse(example);
    const body = served.paths['/chatkit'].post.requestBody.content['application/json'];
    expect(body.examples['threads.create'].value).toEqual(CHATKIT_REQUEST_EXAMPLES['threads.create']);
  });
});

describe('the OpenAPI document in development mode', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({
      AUTH_DEV_MODE: 'true',
      AUTH_JWT_SECRET: undefined,
      ATTACHMENTS_SIGNING_KEY: 'a-signing-key-for-the-sample-client-0123456789',
    });
  });
  afterAll(() => app.close());

  it('offers the identity headers as security schemes, and Swagger UI keeps the authorization', async () => {
    const doc = (await (await fetch(`${app.url}/docs-json`)).json()) as Json;
    for (const name of ['X-User-ID', 'X-Org-ID', 'X-User-Role']) {
      expect(doc.components.securitySchemes[name]).toEqual(
        expect.objectContaining({ type: 'apiKey', in: 'header', name }),
      );
    }
    expect(doc.paths['/api/threads'].get.security).toContainEqual({ 'X-User-ID': [] });
    expect(doc.paths['/api/threads'].get.security).toContainEqual({ bearer: [] });
    expect(await redoclyErrors(doc)).toEqual([]);
    const init = await (await fetch(`${app.url}/docs/swagger-ui-init.js`)).text();
    expect(init).toMatch(/"persistAuthorization":\s*true/);
  });

  it('runs the sample client: two-phase upload, a streamed thread, items and threads lists', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(__dirname, '..', 'examples', 'client', 'sample.ts')],
      { env: { ...process.env, GATEWAY_URL: app.url, GATEWAY_USER: 'sample-client-user' }, timeout: 60_000 },
    );
    const result = JSON.parse(stdout) as {
      attachmentId: string;
      threadId: string;
      eventTypes: string[];
      itemTypes: string[];
      firstMessageAttachments: string[];
      threadIds: string[];
    };
    expect(result.eventTypes.slice(0, 3)).toEqual(['thread.created', 'thread.item.done', 'stream_options']);
    expect(result.eventTypes).not.toContain('error');
    expect(result.itemTypes[0]).toBe('user_message');
    expect(result.itemTypes.filter((t) => t === 'user_message')).toHaveLength(2);
    expect(result.itemTypes).toContain('assistant_message');
    expect(result.firstMessageAttachments).toEqual([result.attachmentId]);
    expect(result.threadIds).toContain(result.threadId);
    // The thread is the user's own: another user does not see it.
    const other = await fetch(`${app.url}/api/threads/${result.threadId}`, {
      headers: { 'X-User-ID': 'someone-else' },
    });
    expect(other.status).toBe(404);
  });
});
