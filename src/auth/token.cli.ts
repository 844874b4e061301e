/**
 * `npm run --silent token -- --sub alice [--org acme] [--admin] [--ttl 3600]`: prints a token the
 * server accepts, signed with its AUTH_JWT_SECRET, for trying the API as a given user:
 *
 *   TOKEN=$(npm run --silent token -- --sub alice)
 *   curl -H "Authorization: Bearer $TOKEN" http://localhost:3000/api/me
 *
 * Reads the same environment (and .env, as the server does outside tests) as the server. Only the
 * token goes to standard output; what it carries is said on standard error. Exits 2 on bad usage
 * or a configuration that cannot sign, 1 on anything else.
 */
import { existsSync } from 'node:fs';
import { authConfig } from 'src/config/auth.config';
import { ConfigValidationError } from 'src/config/env.schema';
import { mintToken, parseTokenArgs, TOKEN_USAGE, TokenCommandError } from 'src/auth/token.minter';

async function tokenCommand(argv: string[]): Promise<number> {
  // Like the server's ConfigModule: variables already set win over the file; tests use neither.
  if (process.env.NODE_ENV !== 'test' && existsSync('.env')) process.loadEnvFile('.env');
  try {
    const request = parseTokenArgs(argv);
    if (request === 'help') {
      process.stdout.write(TOKEN_USAGE);
      return 0;
    }
    const config = authConfig();
    const token = await mintToken(config, request);
    process.stdout.write(`${token}\n`);
    process.stderr.write(
      `token for user "${request.sub}"${request.org ? ` in org "${request.org}"` : ''}${
        request.admin ? ', admin' : ''
      }, valid for ${request.ttlS} s\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof TokenCommandError) {
      process.stderr.write(error.badUsage ? `${error.message}\n\n${TOKEN_USAGE}` : `${error.message}\n`);
      return 2;
    }
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`${error.message}\nSee docs/configuration.md for every setting.\n`);
      return 2;
    }
    throw error;
  }
}

tokenCommand(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
