/**
 * The benchmarks' ChatKit client: one POST /chatkit as a development-auth user (X-User-ID), a
 * streamed answer read to its end with the time to the first text delta, or a JSON answer.
 * Frames are scanned with cheap substring checks, not parsed, so the client stays light next to
 * the server it measures.
 */

export const now = (): number => performance.timeOrigin + performance.now();

export const userInput = (text: string) => ({
  content: [{ type: 'input_text', text }],
  attachments: [],
  inference_options: {},
});

export interface StreamResult {
  /** Epoch ms just before the request was sent. */
  startedAt: number;
  /** From just before the request to the first text delta. */
  ttftMs?: number;
  threadId?: string;
  error?: string;
}

/** Posts one streaming request and reads it to the end. */
export async function streamTurn(url: string, user: string, body: unknown): Promise<StreamResult> {
  return streamPost(`${url}/chatkit`, { 'X-User-ID': user }, body, '.content_part.text_delta"');
}

/**
 * Posts `body` as JSON to `url` and reads the event stream to its end; `firstWord` is a substring
 * of the first frame that counts as the first word (the time to it is `ttftMs`). Shared by the
 * gateway's turns and a model request sent straight to the fake model, so both pay the same
 * client.
 */
export async function streamPost(
  url: string,
  headers: Record<string, string>,
  body: unknown,
  firstWord: string,
): Promise<StreamResult> {
  const startedAt = now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) return { startedAt, error: `HTTP ${res.status}: ${await res.text()}` };
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ttftMs: number | undefined;
  let threadId: string | undefined;
  let error: string | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      // A ChatKit frame is one data line; the model's has an event line before it.
      const data = frame.indexOf('data: ');
      if (data < 0) continue;
      if (ttftMs === undefined && frame.includes(firstWord)) ttftMs = now() - startedAt;
      else if (frame.includes('"thread.created"'))
        threadId = (JSON.parse(frame.slice(data + 6)) as { thread: { id: string } }).thread.id;
      else if (frame.startsWith('data: {"type":"error"')) error = frame.slice(6);
    }
  }
  return { startedAt, ttftMs, threadId, error };
}

/** Posts one non-streaming request; the parsed answer, or throws with the status and body. */
export async function jsonRequest<T>(url: string, user: string, body: unknown): Promise<T> {
  const res = await fetch(`${url}/chatkit`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-User-ID': user },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Creates a thread with a first message, read to the end; its id, or throws. */
export async function createThread(url: string, user: string, text: string): Promise<string> {
  const result = await streamTurn(url, user, { type: 'threads.create', params: { input: userInput(text) } });
  if (!result.threadId || result.error)
    throw new Error(`threads.create failed: ${result.error ?? 'no thread'}`);
  return result.threadId;
}

/** One more user message in a thread, read to the end; throws on a failed turn. */
export async function addMessage(
  url: string,
  user: string,
  threadId: string,
  text: string,
): Promise<StreamResult> {
  const result = await streamTurn(url, user, {
    type: 'threads.add_user_message',
    params: { thread_id: threadId, input: userInput(text) },
  });
  if (result.error) throw new Error(`threads.add_user_message failed: ${result.error}`);
  return result;
}

/** The p-th percentile (nearest rank) of an ascending list. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
