/**
 * The browser of the page tests: the system Chromium driven by playwright-core, headless. A
 * missing Chromium fails the test that needs it with a message saying what to install; it is
 * never a reason to skip.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export async function launchBrowser(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium is not installed at ${executablePath}: install it (e.g. apt-get install chromium) ` +
        'or point CHROMIUM_PATH at a Chromium or Chrome binary.',
    );
  }
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
}
