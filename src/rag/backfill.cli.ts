/**
 * `npm run rag:backfill [-- --reindex]`: embeds every chunk stored without a vector (because the
 * embedding server was down during ingestion, or embeddings were configured later), and with
 * --reindex first rebuilds the full-text index of chunks indexed under another
 * RAG_TEXT_SEARCH_CONFIG. Safe to interrupt and re-run; exits 1 if it could not finish.
 */
import { parseArgs } from 'node:util';
import type { INestApplicationContext } from '@nestjs/common';
import { main, runRagCli } from 'src/rag/rag-cli.context';
import { RagCapabilitiesProbe } from 'src/rag/rag.capabilities';
import { IngestionService } from 'src/rag/rag.ingestion.service';

const USAGE = `usage: npm run rag:backfill [-- --reindex]

  --reindex   also rebuild the full-text index of chunks indexed with another RAG_TEXT_SEARCH_CONFIG
`;

async function backfillCommand(argv: string[]): Promise<number> {
  let reindex: boolean;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        reindex: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    reindex = values.reindex;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  return runRagCli((app) => backfill(app, reindex));
}

async function backfill(app: INestApplicationContext, reindex: boolean): Promise<number> {
  const ingestion = app.get(IngestionService);
  if (reindex) {
    const done = await ingestion.reindexText((n) => process.stdout.write(`reindexed ${n} chunk(s)\r`));
    process.stdout.write(`full-text index: rebuilt ${done} chunk(s)\n`);
  }
  const capabilities = await app.get(RagCapabilitiesProbe).get();
  if (!capabilities.vectorSearch) {
    process.stdout.write(`embeddings: nothing to do, ${capabilities.vectorUnavailableReason}\n`);
    return 0;
  }
  const progress = await ingestion.backfillEmbeddings((p) =>
    process.stdout.write(`embedded ${p.embedded}, ${p.remaining} left\n`),
  );
  process.stdout.write(`embeddings: ${progress.embedded} chunk(s) embedded, ${progress.remaining} left\n`);
  return progress.remaining > 0 ? 1 : 0;
}

main(() => backfillCommand(process.argv.slice(2)));
