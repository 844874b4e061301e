/**
 * Starts the Chromium the machine has (Debian's `chromium` package) for tests that drive pages.
 * A missing browser fails the test with a message saying what to install; it never skips.
 */
import { existsSync } from 'node:fs';
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
