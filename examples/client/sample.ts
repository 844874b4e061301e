/**
 * A small ChatKit Gateway client typed from the committed contract (docs/openapi.json) by
 * openapi-typescript: `npm run client:check` generates ./generated/api.d.ts and type-checks this
 * file against it, so a change of the contract that breaks clients breaks this build.
 *
 * It runs as it is on Node 24 (type stripping), against a server in development mode:
 *
 *   GATEWAY_URL=http://localhost:3000 GATEWAY_USER=alice node examples/client/sample.ts
 *
 * and prints what it did as one JSON line. With a token instead: GATEWAY_TOKEN=<jwt>.
 *
 * What it does: uploads an attachment in two phases (attachments.create, then the bytes to the
 * signed upload URL), starts a thread with a message referencing it (reading the event stream),
 * adds a second message, then lists the thread's items and the user's threads.
 */
import type { components, paths } from './generated/api';

type Schemas = components['schemas'];
type ChatKitRequest = Schemas['ChatKitRequest'];
type Attachment = Schemas['Attachment'];
/** One event of a stream: the union of every event type, discriminated by `type`. */
type ThreadStreamEvent = Schemas['ThreadStreamEvent'];
type Thread = Schemas['Thread'];
type ThreadList = paths['/api/threads']['get']['responses'][200]['content']['application/json'];
type ThreadListQuery = NonNullable<paths['/api/threads']['get']['parameters']['query']>;
type ItemList = paths['/api/threads/{id}/items']['get']['responses'][200]['content']['application/json'];
type ErrorResponse = Schemas['ErrorResponse'];

interface Options {
  baseUrl: string;
  /** Credentials: `{ Authorization: 'Bearer …' }`, or `{ 'X-User-ID': … }` in development mode. */
  headers: Record<string, string>;
}

class GatewayError extends Error {
  readonly body: ErrorResponse;
  constructor(body: ErrorResponse) {
    super(`${body.statusCode} ${body.code}: ${body.message} (request ${body.requestId})`);
    this.body = body;
  }
}

async function check(res: Response): Promise<Response> {
  if (!res.ok) throw new GatewayError((await res.json()) as ErrorResponse);
  return res;
}

/** A `POST /chatkit` request answered with one JSON document (the result types are in the contract). */
async function chatkitJson<T>(options: Options, request: ChatKitRequest): Promise<T> {
  const res = await fetch(new URL('/chatkit', options.baseUrl), {
    method: 'POST',
    headers: { ...options.headers, 'Content-Type': 'application/json' },
    body: JSON.stringify(request),
  });
  return (await (await check(res)).json()) as T;
}

/**
 * A `POST /chatkit` request answered with `text/event-stream`. The contract gives the stream's
 * content the schema `ThreadStreamEvent`, meaning: each `data:` frame holds one such event as JSON.
 * A TypeScript type cannot describe a byte stream of frames, so the frames are split here and each
 * one is typed as `ThreadStreamEvent`; the `type` field then narrows it to the concrete event.
 */
async function* chatkitStream(options: Options, request: ChatKitRequest): AsyncGenerator<ThreadStreamEvent> {
  const res = await check(
    await fetch(new URL('/chatkit', options.baseUrl), {
      method: 'POST',
      headers: { ...options.headers, 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify(request),
    }),
  );
  if (!res.body) throw new Error('the stream has no body');
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of res.body) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const frame = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = frame
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (data) yield JSON.parse(data) as ThreadStreamEvent;
    }
  }
}

/** Two-phase upload: attachments.create reserves the attachment, the bytes go to its signed URL. */
async function uploadAttachment(
  options: Options,
  name: string,
  mimeType: string,
  bytes: Uint8Array,
): Promise<Attachment> {
  const created = await chatkitJson<Attachment>(options, {
    type: 'attachments.create',
    params: { name, size: bytes.byteLength, mime_type: mimeType },
  });
  const descriptor = created.upload_descriptor;
  if (!descriptor) throw new Error('attachments.create gave no upload descriptor');
  // The signed URL is the authorisation: no credentials are sent with the bytes.
  const res = await fetch(new URL(descriptor.url, options.baseUrl), {
    method: descriptor.method,
    headers: { ...descriptor.headers, 'Content-Type': mimeType },
    body: bytes,
  });
  return (await (await check(res)).json()) as Attachment;
}

async function listThreads(options: Options, query: ThreadListQuery): Promise<ThreadList> {
  const url = new URL('/api/threads', options.baseUrl);
  for (const [key, value] of Object.entries(query))
    if (value !== undefined) url.searchParams.set(key, String(value));
  return (await (await check(await fetch(url, { headers: options.headers }))).json()) as ThreadList;
}

async function listItems(options: Options, threadId: string): Promise<ItemList> {
  const url = new URL(`/api/threads/${encodeURIComponent(threadId)}/items`, options.baseUrl);
  url.searchParams.set('order', 'asc');
  return (await (await check(await fetch(url, { headers: options.headers }))).json()) as ItemList;
}

async function main(): Promise<void> {
  const baseUrl = process.env.GATEWAY_URL ?? 'http://localhost:3000';
  const headers: Record<string, string> = process.env.GATEWAY_TOKEN
    ? { Authorization: `Bearer ${process.env.GATEWAY_TOKEN}` }
    : { 'X-User-ID': process.env.GATEWAY_USER ?? 'sample-user' };
  const options: Options = { baseUrl, headers };

  const attachment = await uploadAttachment(
    options,
    'notes.txt',
    'text/plain',
    new TextEncoder().encode('Train tickets: second class, booked two weeks ahead.\n'),
  );

  let thread: Thread | undefined;
  const eventTypes: string[] = [];
  let answer = '';
  for await (const event of chatkitStream(options, {
    type: 'threads.create',
    params: {
      input: {
        content: [{ type: 'input_text', text: 'What do my notes say about train tickets?' }],
        attachments: [attachment.id],
      },
    },
  })) {
    eventTypes.push(event.type);
    if (event.type === 'thread.created') thread = event.thread;
    if (
      event.type === 'thread.item.updated' &&
      event.update.type === 'assistant_message.content_part.text_delta'
    ) {
      answer += event.update.delta;
    }
    if (event.type === 'error') throw new Error(`the stream failed: ${event.message ?? event.code}`);
  }
  if (!thread) throw new Error('threads.create did not announce its thread');

  for await (const event of chatkitStream(options, {
    type: 'threads.add_user_message',
    params: { thread_id: thread.id, input: { content: [{ type: 'input_text', text: 'Thanks!' }] } },
  })) {
    eventTypes.push(event.type);
  }

  const items = await listItems(options, thread.id);
  const threads = await listThreads(options, { limit: 10 });
  const first = items.data[0];
  process.stdout.write(
    `${JSON.stringify({
      attachmentId: attachment.id,
      threadId: thread.id,
      eventTypes,
      answer,
      itemTypes: items.data.map((item) => item.type),
      firstMessageAttachments:
        first?.type === 'user_message' ? (first.attachments ?? []).map((a) => a.id) : [],
      threadIds: threads.data.map((t) => t.id),
    })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
