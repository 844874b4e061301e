/**
 * The examples of README.md and docs/*.md work as written. A fenced block preceded by
 *
 *   <!-- docs-test expect="…" expect="…" -->
 *
 * is run against the real app in development mode (what `npm start` serves), with
 * `http://localhost:3000` replaced by the app's address: a `bash` block with bash from the
 * repository root (the blocks of one file in one script, in order, so later blocks use the
 * variables of earlier ones), a `js` block as an ES module with node. A block passes when it
 * exits 0 — curl runs with --fail-with-body, so a 4xx or 5xx answer fails it — and its output
 * contains each `expect` text. Every block that calls curl must be marked, or marked
 * `<!-- docs-test skip: <why> -->`, so no example can be added without being run.
 *
 * One app at a time: the embedded test database takes a single connection.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { startApp, TEST_JWT_SECRET, type TestApp } from 'test/support/test-app';

const run = promisify(execFile);
const ROOT = join(__dirname, '..');
const DOCS_URL = 'http://localhost:3000';
const BLOCK_TIMEOUT_MS = 120_000;

interface Example {
  file: string;
  line: number;
  lang: string;
  code: string;
  expects: string[];
  skip?: string;
}

const FENCE = /^```(\w*)\n([\s\S]*?)^```$/gm;
const MARKER = /<!-- docs-test(?<skip>\s+skip:[^>]*?)?(?<opts>(?:\s+expect="(?:[^"\\]|\\.)*")*)\s*-->\s*$/;

function examplesOf(file: string): Example[] {
  const text = readFileSync(file, 'utf8');
  const out: Example[] = [];
  for (const match of text.matchAll(FENCE)) {
    const before = text.slice(0, match.index).trimEnd();
    const marker = MARKER.exec(before.slice(before.lastIndexOf('\n') + 1));
    const line = text.slice(0, match.index).split('\n').length;
    const [, lang, code] = match;
    if (!marker) {
      out.push({ file, line, lang, code, expects: [], skip: 'unmarked' });
      continue;
    }
    const expects = [...(marker.groups!.opts ?? '').matchAll(/expect="((?:[^"\\]|\\.)*)"/g)].map((m) =>
      m[1].replace(/\\(.)/g, '$1'),
    );
    out.push({ file, line, lang, code, expects, skip: marker.groups!.skip?.trim() });
  }
  return out;
}

const DOC_FILES = [
  join(ROOT, 'README.md'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f)),
];
const EXAMPLES = DOC_FILES.flatMap(examplesOf);
const name = (e: Example) => `${relative(ROOT, e.file)}:${e.line}`;

describe('the examples in the docs', () => {
  let app: TestApp;
  let workDir: string;

  beforeAll(async () => {
    try {
      execFileSync('jq', ['--version']);
    } catch {
      throw new Error('jq is needed to run the docs examples (apt-get install jq / brew install jq)');
    }
    workDir = mkdtempSync(join(tmpdir(), 'docs-examples-'));
    app = await startApp({
      // What `npm start` serves: development login, the offline responder, no CORS list.
      AUTH_DEV_MODE: 'true',
      OPENAI_API_KEY: undefined,
      OPENAI_BASE_URL: undefined,
      RAG_SEED_DOCS: 'false',
      CHATKIT_HEARTBEAT_MS: '0',
    });
  });

  afterAll(async () => {
    if (app) {
      // The examples leave documents in the org acme; nothing of it may reach later test files.
      const admin = { 'X-User-ID': 'kb-admin', 'X-Org-ID': 'acme', 'X-User-Role': 'admin' };
      const page = (await (await fetch(`${app.url}/api/documents?limit=100`, { headers: admin })).json()) as {
        data: Array<{ id: string }>;
      };
      for (const doc of page.data ?? []) {
        await fetch(`${app.url}/api/documents/${doc.id}`, { method: 'DELETE', headers: admin });
      }
      await app.close();
    }
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('finds the examples, and every curl example is run', () => {
    const runnable = EXAMPLES.filter((e) => e.skip === undefined);
    const files = new Set(runnable.map((e) => relative(ROOT, e.file)));
    expect([...files].sort()).toEqual(
      expect.arrayContaining(['README.md', 'docs/attachments.md', 'docs/frontend.md', 'docs/rag.md']),
    );
    const unrun = EXAMPLES.filter((e) => e.skip === 'unmarked' && /\bcurl\b/.test(e.code)).map(name);
    expect(unrun).toEqual([]);
    // Unmarked blocks without curl (installation, Docker, SQL, sample output) are not run.
    expect(runnable.filter((e) => !['bash', 'js'].includes(e.lang)).map(name)).toEqual([]);
  });

  async function bash(script: string): Promise<{ code: number; output: string }> {
    // Like the reader's shell, but strict: the first failing command (or HTTP error) stops it.
    const prelude = [
      'set -euo pipefail',
      'curl() { command curl --fail-with-body --show-error "$@"; }',
      '',
    ].join('\n');
    return runProcess('bash', ['-c', prelude + script]);
  }

  async function runProcess(command: string, args: string[]): Promise<{ code: number; output: string }> {
    try {
      const { stdout, stderr } = await run(command, args, {
        cwd: ROOT,
        timeout: BLOCK_TIMEOUT_MS,
        maxBuffer: 16 * 1024 * 1024,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          // The token command signs with the secret the app checks; NODE_ENV=test keeps a
          // developer's .env out of it, as it does for the app.
          AUTH_JWT_SECRET: TEST_JWT_SECRET,
          AUTH_ORG_CLAIM: 'org',
          NODE_ENV: 'test',
        },
      });
      return { code: 0, output: `${stdout}${stderr}` };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string; message: string };
      return {
        code: typeof failed.code === 'number' ? failed.code : 1,
        output: `${failed.stdout ?? ''}${failed.stderr ?? ''}${failed.stdout || failed.stderr ? '' : failed.message}`,
      };
    }
  }

  const byFile = new Map<string, Example[]>();
  for (const e of EXAMPLES.filter((x) => x.skip === undefined)) {
    byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  }

  for (const [file, examples] of byFile) {
    const shell = examples.filter((e) => e.lang === 'bash');
    if (shell.length) {
      it(`runs the shell examples of ${relative(ROOT, file)} (${shell.map(name).join(', ')})`, async () => {
        // Each block announces itself, so its output (and a failure) can be told apart.
        const script = shell
          .map((e, i) => `printf '\\n@@example ${i}@@\\n'\n${e.code.split(DOCS_URL).join(app.url)}`)
          .join('\n');
        const { code, output } = await bash(script);
        const sections = output.split(/^@@example \d+@@$/m).slice(1);
        const failedAt = shell[sections.length - 1];
        if (code !== 0) throw new Error(`${name(failedAt)} failed (exit ${code}):\n${output.slice(-4000)}`);
        expect(sections).toHaveLength(shell.length);
        shell.forEach((e, i) => {
          for (const text of e.expects) {
            if (!sections[i].includes(text))
              throw new Error(
                `${name(e)}: the output does not contain ${JSON.stringify(text)}:\n${sections[i]}`,
              );
          }
        });
      });
    }
    for (const e of examples.filter((x) => x.lang === 'js')) {
      it(`runs the script at ${name(e)} with node`, async () => {
        const path = join(workDir, `example-${e.line}.mjs`);
        writeFileSync(path, e.code.split(DOCS_URL).join(app.url));
        const { code, output } = await runProcess(process.execPath, [path]);
        if (code !== 0) throw new Error(`${name(e)} failed (exit ${code}):\n${output.slice(-4000)}`);
        for (const text of e.expects) expect(output).toContain(text);
      });
    }
  }
});
