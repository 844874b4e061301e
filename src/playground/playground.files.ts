/**
 * The files the playground serves: its own page, stylesheet and ES modules from
 * src/playground/public (copied next to the compiled code by `nest build`, see nest-cli.json), and
 * the browser builds of marked and DOMPurify from node_modules, so nothing is fetched from a CDN.
 * Only names found here at start-up are ever served: a request cannot reach another path.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

export interface PlaygroundFile {
  path: string;
  contentType: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
};

export const PUBLIC_DIR = join(__dirname, 'public');

/** The page's own files, by name (`app.js`), excluding the page itself. */
export function publicAssets(dir = PUBLIC_DIR): Map<string, PlaygroundFile> {
  if (!existsSync(dir)) {
    throw new Error(
      `the playground's files are missing from ${dir}: run "nest build" (it copies src/playground/public), or set PLAYGROUND_ENABLED=false`,
    );
  }
  const files = new Map<string, PlaygroundFile>();
  for (const name of readdirSync(dir)) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType && name !== 'index.html') files.set(name, { path: join(dir, name), contentType });
  }
  return files;
}

/** The ES module builds of the two libraries the page imports, resolved the way Node finds them. */
export function vendorModules(): Map<string, PlaygroundFile> {
  // marked's only export is its ES module build; DOMPurify's package exports point at the CommonJS
  // build for require(), and ships the ES build beside it.
  const marked = require.resolve('marked');
  const purify = join(dirname(require.resolve('dompurify')), 'purify.es.mjs');
  const modules = new Map<string, PlaygroundFile>();
  for (const path of [marked, purify]) {
    if (!existsSync(path)) throw new Error(`the playground needs ${path}, which is not installed`);
    modules.set(basename(path), { path, contentType: CONTENT_TYPES['.js'] });
    // Source maps, for the browser's developer tools, when the package ships them.
    if (existsSync(`${path}.map`)) {
      modules.set(`${basename(path)}.map`, { path: `${path}.map`, contentType: CONTENT_TYPES['.map'] });
    }
  }
  return modules;
}
