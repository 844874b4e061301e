/**
 * What one log line costs with and without the redaction the root logger applies (a benchmark,
 * not a test): the same request-completion fields, written by the app's two loggers (appLoggers
 * in src/common/logging.module.ts) to a sink that drops the bytes, in turns, so that both see
 * the same machine. Prints µs per line for each, the cheapest of the rounds.
 *
 *   node -r ts-node/register/transpile-only -r tsconfig-paths/register bench/log-line.ts \
 *     [--lines 200000] [--rounds 5]
 */
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { appLoggers } from 'src/common/logging.module';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
  },
});
const lines = Number(values.lines);
const rounds = Number(values.rounds);

const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
// The two loggers exactly as the app builds them.
const { root, lines: plain } = appLoggers(sink, 'info');
const loggers: Record<string, Logger> = {
  'with the redaction (app logs, lines with an err)': root,
  'without (request completion lines)': plain,
};

/** The fields of a completion line, as createRequestLogger writes them. */
function write(logger: Logger, n: number): void {
  logger.info(
    {
      req: { id: `req-${n}`, method: 'POST', path: '/chatkit' },
      res: { statusCode: 200 },
      responseTime: 1,
      userId: 'user-1',
      orgId: undefined,
      route: '/chatkit',
    },
    'POST /chatkit 200 1ms',
  );
}

const best = new Map<string, number>();
for (let round = 0; round <= rounds; round++) {
  for (const [name, logger] of Object.entries(loggers)) {
    const started = process.hrtime.bigint();
    for (let n = 0; n < lines; n++) write(logger, n);
    const us = Number(process.hrtime.bigint() - started) / 1000 / lines;
    // Round 0 warms the code up and is not counted.
    if (round > 0) best.set(name, Math.min(best.get(name) ?? Infinity, us));
  }
}
const rows = [...best].map(([name, us]) => `| ${name} | ${us.toFixed(2)} |`);
process.stdout.write(['| log line | µs per line (cheapest round) |', '|---|---|', ...rows].join('\n') + '\n');
