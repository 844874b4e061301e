/**
 * Every environment variable the app reads is documented: a row in docs/configuration.md and a
 * line (commented out or not) in .env.example. A knob nobody can find is a knob nobody can set.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentEnvShape } from 'src/config/agent.config';
import { appEnvShape } from 'src/config/app.config';
import { attachmentsEnvShape } from 'src/config/attachments.config';
import { authEnvShape } from 'src/config/auth.config';
import { chatkitEnvShape } from 'src/config/chatkit.config';
import { databaseEnvShape } from 'src/config/database.config';
import { extensionsEnvShape } from 'src/config/extensions.config';
import { metricsEnvShape } from 'src/config/metrics.config';
import { playgroundEnvShape } from 'src/config/playground.config';
import { ragEnvShape } from 'src/config/rag.config';
import { rateLimitEnvShape } from 'src/config/rate-limit.config';
import { usageEnvShape } from 'src/config/usage.config';

const ROOT = join(__dirname, '..', '..');
const variables = [
  ...new Set(
    [
      agentEnvShape,
      appEnvShape,
      attachmentsEnvShape,
      authEnvShape,
      chatkitEnvShape,
      databaseEnvShape,
      extensionsEnvShape,
      metricsEnvShape,
      playgroundEnvShape,
      ragEnvShape,
      rateLimitEnvShape,
      usageEnvShape,
    ].flatMap((shape) => Object.keys(shape)),
  ),
].sort();

describe('configuration docs', () => {
  const reference = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
  const example = readFileSync(join(ROOT, '.env.example'), 'utf8');

  it('knows the variables', () => {
    expect(variables).toEqual(expect.arrayContaining(['DATABASE_URL', 'RAG_FULLTEXT_ROW_BUDGET']));
  });

  it('gives every variable a row in docs/configuration.md', () => {
    // The first cell of a row may name several variables.
    const undocumented = variables.filter(
      (name) => !new RegExp(`^\\| [^|]*\`${name}\`[^|]*\\|`, 'm').test(reference),
    );
    expect(undocumented).toEqual([]);
  });

  it('lists every variable in .env.example', () => {
    const missing = variables.filter((name) => !new RegExp(`^#? ?${name}=`, 'm').test(example));
    expect(missing).toEqual([]);
  });
});
