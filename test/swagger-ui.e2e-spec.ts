/**
 * Swagger UI works in one click in development mode: a real Chromium opens /docs, authorizes
 * with an X-User-ID header, runs "Try it out" → Execute on the threads list and sees that user's
 * thread in a 200. The screenshot of the result is docs/images/swagger-try-it.png (renewed with
 * UPDATE_SCREENSHOTS=1).
 */
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, screenshotPath } from 'test/support/browser';
import { startApp, type TestApp } from 'test/support/test-app';

const USER = 'swagger-ui-user';
const SCREENSHOT = screenshotPath('swagger-try-it.png');

describe('Swagger UI "Try it out" in development mode', () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;
  let threadId: string;

  beforeAll(async () => {
    app = await startApp({ AUTH_DEV_MODE: 'true', AUTH_JWT_SECRET: undefined });
    // A thread of the user, so the page has something of theirs to show.
    const res = await fetch(`${app.url}/chatkit`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-User-ID': USER },
      body: JSON.stringify({
        type: 'threads.create',
        params: { input: { content: [{ type: 'input_text', text: 'Hello from the Swagger UI test' }] } },
      }),
    });
    const stream = await res.text();
    threadId = (JSON.parse(stream.split('\n\n')[0].slice('data: '.length)) as { thread: { id: string } })
      .thread.id;
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('authorizes with X-User-ID and executes GET /chatkit/threads with a 200', async () => {
    await page.goto(`${app.url}/docs`);
    await page.locator('.btn.authorize').first().click();
    const scheme = page.locator('.auth-container').filter({ hasText: 'X-User-ID' }).first();
    await scheme.locator('input').fill(USER);
    await scheme.locator('button.authorize').click();
    await scheme.locator('.btn-done').click();

    const operation = page.locator('#operations-threads-ThreadsController_list');
    await operation.locator('.opblock-summary').click();
    await operation.locator('.try-out__btn').click();
    await operation.locator('.execute').click();

    const live = operation.locator('.live-responses-table .response');
    await live.first().waitFor();
    await expect(live.locator('.response-col_status').first().innerText()).resolves.toContain('200');
    await expect(
      operation.locator('.live-responses-table .highlight-code').first().innerText(),
    ).resolves.toContain(threadId);
    // The request Swagger UI shows carries the header it was authorized with.
    await expect(operation.locator('.curl-command').innerText()).resolves.toContain(`X-User-ID: ${USER}`);

    await operation.locator('.live-responses-table').scrollIntoViewIfNeeded();
    await page.screenshot({ path: SCREENSHOT });
  });
});
