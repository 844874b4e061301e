/**
 * The playground page in a real browser: Chromium (playwright-core) against the real app over
 * HTTP, the agent answering from the fake OpenAI server. A whole conversation with streamed
 * markdown, feedback and retry; stopping an answer half-way; an upload with its preview; a reload
 * that shows what was stored; paging the thread list as another identity; and the page turned
 * off. The conversation ends with the screenshot the README shows (docs/images/playground.png, renewed with UPDATE_SCREENSHOTS=1).
 *
 * One app at a time: the embedded test database takes a single connection.
 */
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { AgentTools } from 'src/agent/agent-tools.registry';
import { chatkit, userInput } from 'test/support/chatkit-client';
import { launchBrowser, screenshotPath } from 'test/support/browser';
import {
  FakeOpenAI,
  fileCitation,
  modelTurn,
  streamErrorAfter,
  textTurn,
  toolCallTurn,
  urlCitation,
  type RecordedRequest,
} from 'test/support/fake-openai';
import { startApp, uniqueUser, type TestApp } from 'test/support/test-app';

const PNG_PATH = join(__dirname, 'fixtures', 'attachments', 'gradient.png');
const SCREENSHOT_PATH = screenshotPath('playground.png');

const MARKDOWN_ANSWER = [
  '## Markdown works',
  '',
  'Here is **bold**, *italic* and `inline code`, straight from the stream.',
  '',
  '- threads are stored in PostgreSQL',
  '- answers stream as Server-Sent Events',
  '',
  '<img src="x" onerror="window.__injected = true">',
  '',
  'A [bad link](javascript:window.__injected=true) loses its target.',
  '',
  'See the configuration guide for every setting.',
].join('\n');

const TIDES = 'Tides are caused by the **Moon**.';

const SLOW_STORY = Array.from({ length: 120 }, (_, i) => `word${i + 1}`).join(' ');

const PICTURE_THOUGHT = 'The attachment is a small PNG; comparing the colours at its edges.';
const PICTURE_ANSWER = [
  'The picture is a **smooth gradient**: one colour fades evenly into another.',
  '',
  '| Looked for | Found |',
  '|---|---|',
  '| text | none |',
  '| objects | none |',
  '',
  'It would make a good background for a slide.',
].join('\n');

/** All the user text the model was sent, to pick a scripted answer for it. */
function promptOf(request: RecordedRequest): string {
  return JSON.stringify((request.body as { input?: unknown })?.input ?? '');
}

/**
 * The model: answers by what the user asked, so each test's turn is unambiguous whatever else
 * runs; the non-streamed calls are the agent naming a new thread.
 */
function scriptedModel(request: RecordedRequest) {
  const prompt = promptOf(request);
  if (!request.stream) {
    if (prompt.includes('markdown')) return textTurn('Markdown tour');
    if (prompt.includes('picture')) return textTurn('A picture');
    if (prompt.includes('tides')) return textTurn('Tides');
    return textTurn('A short chat');
  }
  if (prompt.includes('slow')) return textTurn(SLOW_STORY, { deltaDelayMs: 100 });
  if (prompt.includes('tides')) return textTurn(TIDES);
  if (prompt.includes('markdown')) {
    const start = MARKDOWN_ANSWER.indexOf('configuration guide');
    return textTurn(MARKDOWN_ANSWER, {
      deltaDelayMs: 25,
      annotations: [
        urlCitation({
          url: 'https://example.com/configuration',
          title: 'Configuration guide',
          startIndex: start,
          endIndex: start + 'configuration guide'.length,
        }),
      ],
    });
  }
  if (prompt.includes('picture')) {
    return modelTurn(
      [
        { type: 'reasoning', summary: [PICTURE_THOUGHT] },
        {
          type: 'message',
          text: PICTURE_ANSWER,
          annotations: [
            fileCitation({ fileId: 'file_gradient', filename: 'gradient.png', index: PICTURE_ANSWER.length }),
          ],
        },
      ],
      { deltaDelayMs: 10 },
    );
  }
  return textTurn('Noted.');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until `accept` holds (the server stores a stopped answer just after the stop). */
async function eventually<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  what: string,
): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(value)}`);
    await sleep(100);
  }
}

describe('the playground in a browser', () => {
  let fake: FakeOpenAI;
  let app: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const user = uniqueUser('pg');
  let finishTool: () => void = () => undefined;
  const toolMayFinish = new Promise<void>((resolve) => (finishTool = resolve));
  /** Script errors and refused loads (a CSP violation is logged as a console error). */
  const pageProblems: string[] = [];

  const assistant = () => page.locator('[data-testid="assistant_message"]');
  const itemsOf = async (threadId: string, who = user, org?: string) => {
    const res = await chatkit(
      app,
      who,
      { type: 'items.list', params: { thread_id: threadId, order: 'asc' } },
      { org },
    );
    expect(res.status).toBe(200);
    return res.json.data as any[];
  };
  const currentThreadId = () => decodeURIComponent(new URL(page.url()).hash.slice(1));

  async function useIdentity(userId: string, orgId = ''): Promise<void> {
    await page.locator('#identity').evaluate((details: any) => (details.open = true));
    await page.locator('input[name="mode"][value="dev"]').check();
    await page.getByTestId('user-id').fill(userId);
    await page.getByTestId('org-id').fill(orgId);
    await page.getByTestId('identity-apply').click();
    await page.getByTestId('identity-summary').filter({ hasText: userId }).waitFor();
  }

  async function sendMessage(text: string): Promise<void> {
    await page.getByTestId('message').fill(text);
    await page.getByTestId('message').press('Enter');
  }

  beforeAll(async () => {
    fake = await FakeOpenAI.start({ defaultModelTurn: scriptedModel });
    app = await startApp({
      AUTH_DEV_MODE: 'true',
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'test',
      OPENAI_API: 'responses',
      AGENT_MODEL: 'gpt-test',
      CHATKIT_HEARTBEAT_MS: '0',
      RAG_SEED_DOCS: 'false',
      RAG_EMBEDDINGS_MODEL: undefined,
      ATTACHMENTS_CLEANUP_INTERVAL_S: '0',
      PLAYGROUND_ENABLED: undefined,
    });
    // A server tool that runs until the test lets it finish, so its progress can be looked at.
    app.app.get(AgentTools).register({
      name: 'lookup_order',
      description: 'Look up an order by its id',
      parameters: z.object({ order_id: z.string() }),
      display: { progress: 'Looking up the order…', title: 'Looked up an order', icon: 'search' },
      execute: async (args) => {
        await toolMayFinish;
        return { order_id: args.order_id, status: 'shipped' };
      },
    });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('pageerror', (err) => pageProblems.push(`page error: ${err.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') pageProblems.push(`console: ${message.text()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await fake?.close();
  });

  // A page that threw, or whose CSP refused something it needed, fails whichever test caused it.
  afterEach(() => {
    const problems = pageProblems.splice(0);
    expect(problems).toEqual([]);
  });

  it('serves the page, its modules and the libraries from the app, with a same-origin CSP', async () => {
    const response = await page.goto(`${app.url}/playground`);
    expect(response?.status()).toBe(200);
    const headers = response!.headers();
    expect(headers['content-type']).toMatch(/^text\/html/);
    expect(headers['content-security-policy']).toContain("default-src 'self'");
    expect(headers['content-security-policy']).toContain("script-src 'self'");
    expect(headers['content-security-policy']).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['x-frame-options']).toBe('DENY');
    await page.locator('body[data-ready="true"]').waitFor();

    for (const path of [
      '/playground/vendor/marked.esm.js',
      '/playground/vendor/purify.es.mjs',
      '/playground/assets/app.js',
    ]) {
      const res = await fetch(`${app.url}${path}`);
      expect({ path, status: res.status, type: res.headers.get('content-type') }).toEqual({
        path,
        status: 200,
        type: 'text/javascript; charset=utf-8',
      });
    }
    for (const path of [
      '/playground/assets/index.html',
      '/playground/assets/..%2F..%2Fapp.module.ts',
      '/playground/vendor/marked',
      '/playground/assets/nope.js',
    ]) {
      expect({ path, status: (await fetch(`${app.url}${path}`)).status }).toEqual({ path, status: 404 });
    }
    // Not part of the API: absent from the OpenAPI document.
    const openapi = (await (await fetch(`${app.url}/docs-json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(openapi.paths).filter((p) => p.startsWith('/playground'))).toEqual([]);
  });

  it('holds a conversation: streamed markdown, sources, the thread in the list, feedback and retry', async () => {
    await useIdentity(user);
    await sendMessage('Show me some markdown please');

    // The cursor is drawn only while the answer streams in.
    await assistant().locator('.cursor').waitFor();
    await assistant().locator('h2', { hasText: 'Markdown works' }).waitFor();
    await assistant().locator('.cursor').waitFor({ state: 'detached' });
    await assistant().locator('[data-testid="thumbs-up"]').waitFor();

    expect(await assistant().locator('strong').textContent()).toBe('bold');
    expect(await assistant().locator('.markdown li').allTextContents()).toEqual([
      'threads are stored in PostgreSQL',
      'answers stream as Server-Sent Events',
    ]);
    // The model's HTML is shown as text, and DOMPurify took the script out of the link.
    expect(await assistant().locator('img').count()).toBe(0);
    expect(await assistant().locator('.markdown').innerText()).toContain(
      '<img src="x" onerror="window.__injected = true">',
    );
    const badLink = assistant().locator('.markdown a', { hasText: 'bad link' });
    expect(await badLink.getAttribute('href')).toBeNull();
    expect(await page.evaluate(() => (globalThis as any).__injected)).toBeUndefined();
    const source = assistant().locator('[data-testid="sources"] a');
    expect(await source.textContent()).toBe('Configuration guide');
    expect(await source.getAttribute('href')).toBe('https://example.com/configuration');

    // The new thread is in the list under the title the agent gave it, and is the open one.
    const threadId = currentThreadId();
    expect(threadId).toMatch(/^thr_/);
    await page.locator(`[data-thread-id="${threadId}"]`, { hasText: 'Markdown tour' }).waitFor();
    await page.getByTestId('thread-title').filter({ hasText: 'Markdown tour' }).waitFor();
    const listed = await chatkit(app, user, { type: 'threads.list', params: {} });
    expect(listed.json.data.map((t: any) => [t.id, t.title])).toEqual([[threadId, 'Markdown tour']]);

    // Thumbs up is stored for this user and item.
    const firstAnswerId = await assistant().getAttribute('data-item-id');
    await assistant().getByTestId('thumbs-up').click();
    await assistant().locator('[data-testid="thumbs-up"][aria-pressed="true"]').waitFor();
    const votes = await app.app
      .get(DataSource)
      .query('SELECT kind FROM feedback WHERE thread_id = $1 AND item_id = $2 AND user_id = $3', [
        threadId,
        firstAnswerId,
        user,
      ]);
    expect(votes).toEqual([{ kind: 'positive' }]);

    // Retry answers again in place of the first answer.
    await assistant().getByTestId('retry').click();
    await page
      .locator(
        `[data-testid="assistant_message"]:not([data-item-id="${firstAnswerId}"]) [data-testid="thumbs-up"]`,
      )
      .waitFor();
    expect(await assistant().count()).toBe(1);
    const items = await itemsOf(threadId);
    expect(items.map((i) => i.type)).toEqual(['user_message', 'assistant_message']);
    expect(items[1].id).toBe(await assistant().getAttribute('data-item-id'));
    expect(items[1].id).not.toBe(firstAnswerId);
  });

  it('stops an answer: the partial text stays on screen, is stored, and is there after a reload', async () => {
    await page.getByTestId('new-chat').click();
    await sendMessage('Tell me a slow story');
    await page.waitForFunction(() => {
      const text =
        (globalThis as any).document.querySelector('[data-testid="assistant_message"] .markdown')
          ?.textContent ?? '';
      return text.split(/\s+/).filter(Boolean).length >= 5;
    });
    await page.getByTestId('stop').click();
    await assistant().getByTestId('stopped').waitFor();
    expect(await page.getByTestId('send').isVisible()).toBe(true);
    expect(await page.getByTestId('stop').isVisible()).toBe(false);

    const shown = (await assistant().locator('.markdown').innerText()).trim();
    expect(shown.length).toBeGreaterThan(0);
    expect(SLOW_STORY.startsWith(shown)).toBe(true);
    expect(shown.length).toBeLessThan(SLOW_STORY.length);

    // The browser hung up, so the server hung up on the model, and stored what it had.
    const modelCall = fake.requests.findIndex((r) => r.stream && promptOf(r).includes('slow'));
    await fake.waitForClientClose(modelCall, 10_000);
    const threadId = currentThreadId();
    const items = await eventually(
      () => itemsOf(threadId),
      (list) => list.some((i) => i.type === 'assistant_message'),
      'the stopped answer to be stored',
    );
    const stored = items.find((i) => i.type === 'assistant_message').content[0].text as string;
    expect(stored.startsWith(shown)).toBe(true);
    expect(stored.length).toBeLessThan(SLOW_STORY.length);

    await page.reload();
    await assistant().waitFor();
    expect(currentThreadId()).toBe(threadId);
    expect((await assistant().locator('.markdown').innerText()).trim()).toBe(stored.trim());
    expect(await page.locator('[data-testid="user_message"]').innerText()).toContain('Tell me a slow story');
  });

  it('shows an error event after the partial answer, and retries from it', async () => {
    await page.getByTestId('new-chat').click();
    fake.enqueue(streamErrorAfter(2, textTurn(TIDES)));
    await sendMessage('Tell me about tides');
    const failure = page.getByTestId('stream-error');
    await failure.waitFor();
    expect(await failure.innerText()).toContain('The answer failed.');
    expect((await assistant().locator('.markdown').innerText()).trim()).toBe('Tides are');
    expect(fake.pendingModelTurns).toBe(0);

    await failure.getByRole('button', { name: 'Retry' }).click();
    await assistant().locator('strong', { hasText: 'Moon' }).waitFor();
    await assistant().getByTestId('thumbs-up').waitFor();
    expect(await page.getByTestId('stream-error').count()).toBe(0);
    const items = await itemsOf(currentThreadId());
    expect(items.map((i) => i.type)).toEqual(['user_message', 'assistant_message']);
    expect(items[1].content[0].text).toBe(TIDES);
  });

  it('shows a tool at work: the progress line and a loading task, then the answer', async () => {
    await page.getByTestId('new-chat').click();
    fake.enqueue(toolCallTurn('lookup_order', { order_id: 'A-17' }), textTurn('Order **A-17** has shipped.'));
    await sendMessage('Where is my order A-17?');
    await page.getByTestId('progress').filter({ hasText: 'Looking up the order…' }).waitFor();
    const workflow = page.getByTestId('workflow');
    await workflow.locator('.task-loading', { hasText: 'Looked up an order' }).waitFor();

    finishTool();
    await assistant().locator('strong', { hasText: 'A-17' }).waitFor();
    await assistant().getByTestId('thumbs-up').waitFor();
    expect(await page.getByTestId('progress').isVisible()).toBe(false);
    expect(await workflow.locator('.task-complete').textContent()).toContain('Looked up an order');
    expect(fake.pendingModelTurns).toBe(0);
  });

  it('uploads an image with progress and a preview, sends it, and shows it again after a reload', async () => {
    await page.getByTestId('new-chat').click();
    await page.getByTestId('file-input').setInputFiles(PNG_PATH);
    const chip = page.getByTestId('attachment-chip');
    await chip.locator('[data-testid="chip-preview"]').waitFor();
    await page.locator('[data-testid="attachment-chip"][data-status="ready"]').waitFor();
    expect(await chip.locator('[role="progressbar"]').getAttribute('aria-valuenow')).toBe('100');
    expect(await chip.innerText()).toContain('gradient.png');

    await sendMessage('What is in this picture?');
    await assistant().locator('strong', { hasText: 'smooth gradient' }).waitFor();
    await assistant().getByTestId('thumbs-up').waitFor();
    expect(await page.getByTestId('attachment-chip').count()).toBe(0);
    // The model's reasoning is a workflow of thought tasks above the answer; the citation a source.
    await page.getByTestId('workflow').locator('summary', { hasText: 'Thought for' }).click();
    expect(await page.getByTestId('workflow').innerText()).toContain(PICTURE_THOUGHT);
    expect(await assistant().locator('.markdown td').allTextContents()).toEqual([
      'text',
      'none',
      'objects',
      'none',
    ]);
    expect(await assistant().getByTestId('sources').innerText()).toContain('gradient.png');

    // The message shows the stored image through its signed preview link, and the model got it.
    const image = page.locator('[data-testid="user_message"] [data-testid="message-image"]');
    await page.waitForFunction(() => {
      const img = (globalThis as any).document.querySelector('[data-testid="message-image"]');
      return Boolean(img?.complete && img.naturalWidth > 0);
    });
    expect(await image.getAttribute('alt')).toBe('gradient.png');
    const modelCall = fake.requests.find((r) => r.stream && promptOf(r).includes('picture'))!;
    expect(promptOf(modelCall)).toContain('input_image');
    const threadId = currentThreadId();
    const [message] = await itemsOf(threadId);
    expect(message.attachments).toEqual([expect.objectContaining({ name: 'gradient.png', type: 'image' })]);

    await page.reload();
    await assistant().locator('strong', { hasText: 'smooth gradient' }).waitFor();
    await page.waitForFunction(() => {
      const img = (globalThis as any).document.querySelector('[data-testid="message-image"]');
      return Boolean(img?.complete && img.naturalWidth > 0);
    });
    // Every thread, newest first; the stopped one was never named (titles follow a whole answer).
    expect(await page.locator('[data-testid="thread-list"] .thread-title').allTextContents()).toEqual([
      'A picture',
      'A short chat',
      'Tides',
      'Untitled',
      'Markdown tour',
    ]);

    // The picture for the README: this conversation, the other threads listed, a draft typed.
    await page.getByTestId('workflow').locator('summary').click();
    await page.getByTestId('message').fill('Can you suggest colours that go with it?');
    await page.screenshot({ path: SCREENSHOT_PATH });
  });

  it('pages the thread list and keeps identities apart', async () => {
    const other = uniqueUser('pg-other');
    for (let i = 1; i <= 22; i++) {
      const res = await chatkit(
        app,
        other,
        { type: 'threads.create', params: { input: userInput(`thread number ${i}`) } },
        { org: 'acme' },
      );
      expect(res.status).toBe(200);
    }
    await useIdentity(other, 'acme');
    const titles = page.locator('[data-testid="thread-list"] .thread');
    await page.getByTestId('load-more').waitFor();
    expect(await titles.count()).toBe(20);
    await page.getByTestId('load-more').click();
    await page.getByTestId('load-more').waitFor({ state: 'hidden' });
    expect(await titles.count()).toBe(22);
    const ids = await titles.evaluateAll((buttons) => buttons.map((b: any) => b.dataset.threadId as string));
    expect(new Set(ids).size).toBe(22);

    // The same user without the organisation is someone else: none of these threads.
    await useIdentity(other);
    await page.locator('#threads-empty').waitFor();
    expect(await titles.count()).toBe(0);

    // The identity survives a reload (localStorage); back to the first user, whose threads return.
    await useIdentity(user);
    await page.reload();
    await page.locator('.thread', { hasText: 'Markdown tour' }).waitFor();
    expect(await page.getByTestId('identity-summary').textContent()).toBe(user);
    expect(await titles.count()).toBe(5);
  });
});

describe('the playground turned off', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ PLAYGROUND_ENABLED: 'false', AUTH_DEV_MODE: 'true' });
  });
  afterAll(() => app?.close());

  it('answers 404 for the page and every file, as for an unknown path', async () => {
    for (const path of [
      '/playground',
      '/playground/',
      '/playground/assets/app.js',
      '/playground/vendor/marked.esm.js',
    ]) {
      const res = await fetch(`${app.url}${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(((await res.json()) as { code: string }).code).toBe('not_found');
    }
    // The rest of the app is unaffected.
    const res = await app.fetch('/chatkit', {
      method: 'POST',
      headers: { 'X-User-ID': 'someone' },
      json: { type: 'threads.list', params: {} },
    });
    expect(res.status).toBe(200);
  });
});
