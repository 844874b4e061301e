/**
 * Development tokens: signs an HS256 (or HS384/HS512) JWT with the server's own AUTH_JWT_SECRET,
 * carrying the claims the server is configured to read (user, org, admin role, issuer, audience),
 * so a front-end developer can call the gateway exactly as production callers do. Used by
 * `npm run token`; it never reads or prints anything but the token it was asked for.
 *
 * It must never sign with anything but the configured secret, nor produce a token that the same
 * configuration would refuse (a user id it cannot read, an org it ignores, no expiry).
 */
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { z } from 'zod';
import { identifierProblem } from 'src/auth/identity-claims';
import type { AuthConfig } from 'src/config/auth.config';

/** What the command was asked for. */
export interface TokenRequest {
  sub: string;
  org?: string;
  admin: boolean;
  /** Lifetime in seconds. */
  ttlS: number;
}

/** The part of the auth configuration that decides what a token must look like. */
export type TokenSigningConfig = Pick<
  AuthConfig,
  | 'jwtSecret'
  | 'jwksUrl'
  | 'issuer'
  | 'audience'
  | 'algorithms'
  | 'userClaim'
  | 'orgClaim'
  | 'orgClaimPath'
  | 'adminClaim'
  | 'adminValue'
>;

/** Bad usage or a configuration that cannot sign: the message says what to do. */
export class TokenCommandError extends Error {
  constructor(
    message: string,
    /** The command line was wrong (rather than the configuration): worth showing the usage. */
    readonly badUsage = false,
  ) {
    super(message);
  }
}

export const TOKEN_USAGE = `usage: npm run --silent token -- --sub <user> [--org <org>] [--admin] [--ttl <seconds>]

  --sub <user>     the user id the token names (required)
  --org <org>      the organisation (needs AUTH_ORG_CLAIM, the claim the server reads it from)
  --admin          give the admin role (AUTH_ADMIN_CLAIM containing AUTH_ADMIN_VALUE)
  --ttl <seconds>  lifetime, default 3600 (1 hour)

Prints the token on standard output. It is signed with AUTH_JWT_SECRET from the environment or
.env, so the server accepts it only when it runs with the same secret.
`;

const MAX_TTL_S = 31_536_000;

const identifier = (what: string) =>
  z.string().superRefine((value, ctx) => {
    const problem = identifierProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: `${what} ${problem}` });
  });

const RequestSchema = z.object({
  sub: identifier('--sub'),
  org: identifier('--org').optional(),
  admin: z.boolean(),
  ttlS: z.coerce
    .number({ message: '--ttl must be a number of seconds' })
    .int('--ttl must be a whole number of seconds')
    .min(1, '--ttl must be at least 1 second')
    .max(MAX_TTL_S, `--ttl must be at most ${MAX_TTL_S} seconds (a year)`),
});

/** Reads the command line (without the node and script arguments). */
export function parseTokenArgs(argv: string[]): TokenRequest | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        sub: { type: 'string' },
        org: { type: 'string' },
        admin: { type: 'boolean', default: false },
        ttl: { type: 'string', default: '3600' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new TokenCommandError(error instanceof Error ? error.message : String(error), true);
  }
  if (values.help) return 'help';
  if (values.sub === undefined) throw new TokenCommandError('--sub <user> is required', true);
  const parsed = RequestSchema.safeParse({
    sub: values.sub,
    org: values.org,
    admin: values.admin,
    ttlS: values.ttl,
  });
  if (!parsed.success) {
    throw new TokenCommandError(parsed.error.issues.map((i) => i.message).join('; '), true);
  }
  return parsed.data;
}

/** Signs the token `request` asks for, as `config` expects it. `now` in epoch seconds. */
export async function mintToken(
  config: TokenSigningConfig,
  request: TokenRequest,
  now = Math.floor(Date.now() / 1000),
): Promise<string> {
  if (!config.jwtSecret) {
    throw new TokenCommandError(
      [
        'No AUTH_JWT_SECRET is configured, so there is nothing to sign a token with.',
        config.jwksUrl
          ? 'This server takes its tokens from your identity provider (AUTH_JWKS_URL); get one there, or also set AUTH_JWT_SECRET.'
          : 'Set a secret of at least 32 characters in .env (or the environment) for both the server and this command, e.g.',
        ...(config.jwksUrl ? [] : ['  echo "AUTH_JWT_SECRET=$(openssl rand -hex 32)" >> .env']),
        'then restart the server. In development mode (npm start) the X-User-ID header works without any token.',
      ].join('\n'),
    );
  }
  const alg = config.algorithms.find((a) => a.startsWith('HS'));
  if (!alg) {
    throw new TokenCommandError(
      `AUTH_JWT_ALGORITHMS (${config.algorithms.join(', ')}) allows no HMAC algorithm, so the server would refuse a token signed with AUTH_JWT_SECRET; add HS256`,
    );
  }
  const claims: Record<string, unknown> = { [config.userClaim]: request.sub };
  if (request.org !== undefined) {
    if (!config.orgClaim) {
      throw new TokenCommandError(
        '--org needs AUTH_ORG_CLAIM: this server reads no organisation from tokens (set e.g. AUTH_ORG_CLAIM=org for the server and this command)',
      );
    }
    // AUTH_ORG_CLAIM_PATH nests the org inside the claim: {"<claim>": {"org": {"id": "<org>"}}}.
    const value = config.orgClaimPath.reduceRight<unknown>((inner, key) => ({ [key]: inner }), request.org);
    claims[config.orgClaim] = value;
  }
  if (request.admin) {
    if (config.adminClaim === config.userClaim || config.adminClaim === config.orgClaim) {
      throw new TokenCommandError(
        `--admin: AUTH_ADMIN_CLAIM ("${config.adminClaim}") is also the user or org claim; the server could not read both`,
      );
    }
    // An array holding the value is what the server's role check accepts for any AUTH_ADMIN_VALUE.
    claims[config.adminClaim] = [config.adminValue];
  }
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + request.ttlS);
  if (config.issuer) jwt.setIssuer(config.issuer);
  if (config.audience) jwt.setAudience(config.audience);
  return jwt.sign(new TextEncoder().encode(config.jwtSecret));
}
