/**
 * `npm run ingest -- [--org <org>] [--force] <files or folders>…`: puts documents into the
 * knowledge base from the command line, one line of progress per file:
 *
 *   [12/340] docs/x.md: created (8 chunks)
 *
 * Folders are walked for Markdown, text, HTML and PDF files. Each file's source is its path
 * relative to the working directory, so re-running the same command only touches what changed.
 * Without --org the documents are global (every org searches them). Exits 1 if any file failed,
 * 2 on bad usage. It never deletes documents whose files have gone.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { INestApplicationContext } from '@nestjs/common';
import { AppException } from 'src/common/app.exception';
import { main, runRagCli } from 'src/rag/rag-cli.context';
import { collectFiles, MissingPathError, type FoundFile } from 'src/rag/rag.files';
import { IngestionService } from 'src/rag/rag.ingestion.service';
import { KnowledgeRepository } from 'src/rag/rag.repository';

const USAGE = `usage: npm run ingest -- [--org <org>] [--force] <files or folders>...

  --org <org>   put the documents in this org's knowledge base (default: global, seen by every org)
  --force       rebuild the chunks even of unchanged files (after changing RAG_CHUNK_TOKENS, say)
`;

async function ingestCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        org: { type: 'string', default: '' },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  if (args.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.positionals.length === 0) {
    process.stderr.write(`name at least one file or folder\n${USAGE}`);
    return 2;
  }
  let files: FoundFile[];
  try {
    files = await collectFiles(args.positionals);
  } catch (error) {
    if (error instanceof MissingPathError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (files.length === 0) {
    process.stderr.write('no Markdown, text, HTML or PDF files found\n');
    return 1;
  }
  const org = args.values.org.trim();
  return runRagCli((app) => ingestFiles(app, files, org, args.values.force));
}

async function ingestFiles(
  app: INestApplicationContext,
  files: FoundFile[],
  orgId: string,
  force: boolean,
): Promise<number> {
  const ingestion = app.get(IngestionService);
  const width = String(files.length).length;
  const counts = { created: 0, updated: 0, unchanged: 0, failed: 0 };
  for (const [i, file] of files.entries()) {
    const prefix = `[${String(i + 1).padStart(width)}/${files.length}] ${file.source}:`;
    try {
      const result = await ingestion.ingest({
        orgId,
        buffer: await readFile(file.path),
        filename: file.path,
        source: file.source,
        force,
      });
      counts[result.status]++;
      const detail =
        result.status === 'unchanged'
          ? ''
          : ` (${result.document.chunkCount} chunk${result.document.chunkCount === 1 ? '' : 's'}` +
            `${result.embeddingError ? `, not embedded: ${result.embeddingError}` : ''})`;
      process.stdout.write(`${prefix} ${result.status}${detail}\n`);
    } catch (error) {
      counts.failed++;
      const reason =
        error instanceof AppException
          ? `${error.code}: ${error.message}`
          : error instanceof Error
            ? error.message
            : String(error);
      process.stdout.write(`${prefix} failed (${reason})\n`);
    }
  }
  // Fresh term statistics for the search (the embedded database has no autovacuum).
  if (counts.created + counts.updated > 0) await app.get(KnowledgeRepository).analyze();
  process.stdout.write(
    `${files.length} file(s) into ${orgId ? `org "${orgId}"` : 'the global knowledge base'}: ` +
      `${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged, ${counts.failed} failed\n`,
  );
  return counts.failed > 0 ? 1 : 0;
}

main(() => ingestCommand(process.argv.slice(2)));
