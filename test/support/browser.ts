/**
 * Starts the Chromium the machine has (Debian's `chromium` package) for tests that drive pages.
 * A missing browser fails the test with a message saying what to install; it never skips.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export async function launchBrowser(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium not found at ${executablePath}: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH to a Chromium executable`,
    );
  }
  // --no-sandbox: CI and containers run as root, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
}

/**
 * Where a test saves a screenshot: the committed image under docs/images when UPDATE_SCREENSHOTS=1
 * (how the README's pictures are renewed), else a scratch folder, so a test run leaves the
 * working tree as it was.
 */
export function screenshotPath(name: string): string {
  const dir =
    process.env.UPDATE_SCREENSHOTS === '1'
      ? join(__dirname, '..', '..', 'docs', 'images')
      : join(tmpdir(), 'chatkit-gateway-screenshots');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
