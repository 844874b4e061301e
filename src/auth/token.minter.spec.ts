import { decodeJwt, decodeProtectedHeader } from 'jose';
import { JwtVerifier } from 'src/auth/jwt-verifier.service';
import { mintToken, parseTokenArgs, TokenCommandError, type TokenRequest } from 'src/auth/token.minter';
import type { AuthConfig } from 'src/config/auth.config';

const SECRET = 'a-development-secret-that-is-long-enough-0123456789';

function config(overrides: Partial<AuthConfig> = {}): AuthConfig {
  return {
    jwtSecret: SECRET,
    jwksUrl: undefined,
    issuer: undefined,
    audience: undefined,
    algorithms: ['HS256'],
    clockToleranceS: 0,
    userClaim: 'sub',
    orgClaim: undefined,
    orgClaimPath: [],
    orgRequired: false,
    requireExp: true,
    maxTokenAgeS: undefined,
    adminClaim: 'roles',
    adminValue: 'admin',
    devMode: false,
    ...overrides,
  };
}

const alice: TokenRequest = { sub: 'alice', admin: false, ttlS: 3600 };

async function refusal(promise: Promise<unknown>): Promise<TokenCommandError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TokenCommandError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('mintToken', () => {
  it('signs a token the server with the same configuration accepts as that user', async () => {
    const cfg = config();
    const token = await mintToken(cfg, alice);
    expect(await new JwtVerifier(cfg).verify(token)).toEqual({
      userId: 'alice',
      orgId: undefined,
      isAdmin: false,
    });
    expect(decodeProtectedHeader(token).alg).toBe('HS256');
  });

  it('puts the org and the admin role in the claims the server is configured to read', async () => {
    const cfg = config({
      userClaim: 'uid',
      orgClaim: 'https://example.com/tenant',
      orgClaimPath: ['org', 'id'],
      adminClaim: 'groups',
      adminValue: 'chat-admins',
      issuer: 'https://issuer.test/',
      audience: 'chatkit',
    });
    const token = await mintToken(cfg, { sub: 'alice', org: 'acme', admin: true, ttlS: 60 });
    expect(await new JwtVerifier(cfg).verify(token)).toEqual({
      userId: 'alice',
      orgId: 'acme',
      isAdmin: true,
    });
    expect(decodeJwt(token)).toMatchObject({
      uid: 'alice',
      'https://example.com/tenant': { org: { id: 'acme' } },
      groups: ['chat-admins'],
      iss: 'https://issuer.test/',
      aud: 'chatkit',
    });
  });

  it('sets iat and exp from the lifetime', async () => {
    const token = await mintToken(config(), { ...alice, ttlS: 120 }, 1_800_000_000);
    expect(decodeJwt(token)).toMatchObject({ iat: 1_800_000_000, exp: 1_800_000_120 });
  });

  it('is refused by a server with another secret', async () => {
    const token = await mintToken(config(), alice);
    await expect(
      new JwtVerifier(config({ jwtSecret: 'another-secret-that-is-long-enough-0123456789' })).verify(token),
    ).rejects.toMatchObject({ code: 'token_invalid_signature' });
  });

  it('uses the HMAC algorithm the server allows', async () => {
    const cfg = config({ algorithms: ['RS256', 'HS512'] });
    const token = await mintToken(cfg, alice);
    expect(decodeProtectedHeader(token).alg).toBe('HS512');
    const none = await refusal(mintToken(config({ algorithms: ['RS256'] }), alice));
    expect(none.message).toMatch(/AUTH_JWT_ALGORITHMS \(RS256\) allows no HMAC algorithm/);
  });

  it('says how to configure a secret when there is none', async () => {
    const error = await refusal(mintToken(config({ jwtSecret: undefined }), alice));
    expect(error.message).toMatch(/No AUTH_JWT_SECRET is configured/);
    expect(error.message).toContain('echo "AUTH_JWT_SECRET=$(openssl rand -hex 32)" >> .env');
    expect(error.badUsage).toBe(false);
    const jwks = await refusal(
      mintToken(config({ jwtSecret: undefined, jwksUrl: 'https://idp.test/jwks' }), alice),
    );
    expect(jwks.message).toMatch(/identity provider \(AUTH_JWKS_URL\)/);
  });

  it('refuses an org the server would not read, and an admin claim that collides', async () => {
    expect((await refusal(mintToken(config(), { ...alice, org: 'acme' }))).message).toMatch(
      /--org needs AUTH_ORG_CLAIM/,
    );
    expect(
      (await refusal(mintToken(config({ adminClaim: 'sub' }), { ...alice, admin: true }))).message,
    ).toMatch(/AUTH_ADMIN_CLAIM \("sub"\) is also the user or org claim/);
  });

  it('puts the org itself in an org claim without a path', async () => {
    const token = await mintToken(config({ orgClaim: 'org' }), { ...alice, org: 'acme' });
    expect(decodeJwt(token).org).toBe('acme');
  });
});

describe('parseTokenArgs', () => {
  it('reads the options, with a one-hour default lifetime', () => {
    expect(parseTokenArgs(['--sub', 'alice'])).toEqual({ sub: 'alice', admin: false, ttlS: 3600 });
    expect(parseTokenArgs(['--sub', 'bob', '--org', 'acme', '--admin', '--ttl', '60'])).toEqual({
      sub: 'bob',
      org: 'acme',
      admin: true,
      ttlS: 60,
    });
    expect(parseTokenArgs(['--help'])).toBe('help');
  });

  it.each([
    [[], '--sub <user> is required'],
    [['--sub', ''], '--sub is empty'],
    [['--sub', 'a', '--org', ' acme'], '--org has leading or trailing whitespace'],
    [['--sub', 'a', '--ttl', 'soon'], '--ttl must be a number of seconds'],
    [['--sub', 'a', '--ttl', '0'], '--ttl must be at least 1 second'],
    [['--sub', 'a', '--ttl', '1.5'], '--ttl must be a whole number of seconds'],
    [['--sub', 'a', '--ttl', '99999999999'], '--ttl must be at most 31536000 seconds (a year)'],
    [['--sub', 'a', '--role', 'x'], "Unknown option '--role'"],
  ])('refuses %j: %s', (argv, message) => {
    let error: unknown;
    try {
      parseTokenArgs(argv);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TokenCommandError);
    expect((error as TokenCommandError).message).toContain(message);
    expect((error as TokenCommandError).badUsage).toBe(true);
  });
});
