/**
 * Every config namespace of the app, in one list: ConfigModule loads them, and the bootstrap
 * validates them all up front so a bad environment is reported in one message naming every bad
 * variable, before anything starts.
 */
import { agentConfig } from 'src/config/agent.config';
import { appConfig } from 'src/config/app.config';
import { attachmentsConfig } from 'src/config/attachments.config';
import { authConfig } from 'src/config/auth.config';
import { databaseConfig } from 'src/config/database.config';
import { extensionsConfig } from 'src/config/extensions.config';
import { metricsConfig } from 'src/config/metrics.config';
import { playgroundConfig } from 'src/config/playground.config';
import { rateLimitConfig } from 'src/config/rate-limit.config';
import { ragConfig } from 'src/config/rag.config';
import { chatkitConfig } from 'src/config/chatkit.config';
import { usageConfig } from 'src/config/usage.config';
import { ConfigValidationError } from 'src/config/env.schema';

export const CONFIG_NAMESPACES = [
  appConfig,
  databaseConfig,
  authConfig,
  rateLimitConfig,
  metricsConfig,
  chatkitConfig,
  attachmentsConfig,
  ragConfig,
  agentConfig,
  extensionsConfig,
  usageConfig,
  playgroundConfig,
];

/** Runs every namespace factory; throws one ConfigValidationError listing all problems. */
export function validateAllConfig(): void {
  const problems: string[] = [];
  for (const factory of CONFIG_NAMESPACES) {
    try {
      factory();
    } catch (err) {
      if (err instanceof ConfigValidationError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (problems.length) throw new ConfigValidationError(problems);
}
