/**
 * Verifies bearer tokens with jose: HS* against the shared secret, asymmetric algorithms against
 * the JWKS (cached and refreshed by jose). Every failure maps to a 401 with a precise reason code;
 * a JWKS endpoint that cannot be reached is our outage, not the caller's fault, so it is a 503.
 * It must never accept `alg: none` or an algorithm outside the configured list, a token without
 * `exp` unless AUTH_REQUIRE_EXP=false, nor a user or org claim that is present but unusable.
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyOptions,
} from 'jose';
import { readOrgClaim, readUserClaim } from 'src/auth/identity-claims';
import { authConfig, type AuthConfig } from 'src/config/auth.config';
import { AppException, ErrorCode } from 'src/common/app.exception';

export interface VerifiedIdentity {
  userId: string;
  orgId?: string;
  isAdmin: boolean;
}

@Injectable()
export class JwtVerifier {
  private readonly secret?: Uint8Array;
  private readonly jwks?: ReturnType<typeof createRemoteJWKSet>;

  constructor(@Inject(authConfig.KEY) private readonly config: AuthConfig) {
    if (config.jwtSecret) this.secret = new TextEncoder().encode(config.jwtSecret);
    if (config.jwksUrl) {
      this.jwks = createRemoteJWKSet(new URL(config.jwksUrl), {
        timeoutDuration: 5000,
        cooldownDuration: 30_000,
      });
    }
  }

  get configured(): boolean {
    return Boolean(this.secret || this.jwks);
  }

  async verify(token: string): Promise<VerifiedIdentity> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new AppException(ErrorCode.TokenMalformed, 'the bearer token is not a well-formed JWT');
    }
    if (!alg || alg.toLowerCase() === 'none' || !this.config.algorithms.includes(alg)) {
      throw new AppException(
        ErrorCode.TokenAlgorithmNotAllowed,
        `tokens signed with "${alg ?? 'none'}" are not accepted`,
      );
    }
    const symmetric = alg.startsWith('HS');
    const key = symmetric ? this.secret : this.jwks;
    if (!key) {
      throw new AppException(ErrorCode.TokenAlgorithmNotAllowed, `no key is configured for "${alg}" tokens`);
    }
    let payload: JWTPayload;
    try {
      const options: JWTVerifyOptions = {
        algorithms: [alg],
        issuer: this.config.issuer,
        audience: this.config.audience,
        clockTolerance: this.config.clockToleranceS,
        requiredClaims: this.config.requireExp ? ['exp'] : [],
        // jose then also requires `iat`, refuses one in the future, and throws JWTExpired on age.
        maxTokenAge: this.config.maxTokenAgeS,
      };
      payload =
        key instanceof Uint8Array
          ? (await jwtVerify(token, key, options)).payload
          : (await jwtVerify(token, key, options)).payload;
    } catch (err) {
      throw mapJoseError(err, this.config.maxTokenAgeS);
    }
    const userId = readUserClaim(payload, this.config.userClaim);
    const orgId = readOrgClaim(payload, {
      claim: this.config.orgClaim,
      path: this.config.orgClaimPath,
      required: this.config.orgRequired,
    });
    return { userId, orgId, isAdmin: hasRole(payload[this.config.adminClaim], this.config.adminValue) };
  }
}

function hasRole(claim: unknown, role: string): boolean {
  if (Array.isArray(claim)) return claim.includes(role);
  if (typeof claim === 'string') return claim.split(/[\s,]+/).includes(role);
  return claim === true && role === 'true';
}

function mapJoseError(err: unknown, maxTokenAgeS: number | undefined): AppException {
  if (err instanceof errors.JWTExpired) {
    if (err.claim === 'iat') {
      return new AppException(
        ErrorCode.TokenExpired,
        `the token is older than the maximum token age of ${maxTokenAgeS} s (by its "iat" claim)`,
      );
    }
    return new AppException(ErrorCode.TokenExpired, 'the token has expired');
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') {
      if (err.claim === 'exp') {
        return new AppException(
          ErrorCode.TokenInvalidClaims,
          'the token has no "exp" claim; an expiry time is required',
        );
      }
      if (err.claim === 'iat') {
        return new AppException(
          ErrorCode.TokenInvalidClaims,
          'the token has no "iat" claim; an issue time is required because token age is limited',
        );
      }
      return new AppException(ErrorCode.TokenInvalidClaims, `the token has no "${err.claim}" claim`);
    }
    if (err.reason === 'invalid') {
      return new AppException(
        ErrorCode.TokenInvalidClaims,
        `the token's "${err.claim}" claim must be a number`,
      );
    }
    if (err.claim === 'nbf')
      return new AppException(ErrorCode.TokenNotYetValid, 'the token is not valid yet');
    if (err.claim === 'iat')
      return new AppException(ErrorCode.TokenInvalidClaims, 'the token\'s "iat" claim is in the future');
    return new AppException(ErrorCode.TokenInvalidClaims, `the token's "${err.claim}" claim is not accepted`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
    return new AppException(ErrorCode.TokenInvalidSignature, 'the token signature is not valid');
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return new AppException(ErrorCode.TokenAlgorithmNotAllowed, 'the token algorithm is not accepted');
  }
  if (
    err instanceof errors.JWKSTimeout ||
    (err instanceof errors.JOSEError && err.code === 'ERR_JWKS_INVALID')
  ) {
    return new AppException(
      ErrorCode.ServiceUnavailable,
      'the signing keys could not be fetched; try again shortly',
    );
  }
  if (err instanceof errors.JOSEError)
    return new AppException(ErrorCode.TokenMalformed, 'the token could not be verified');
  // A network failure fetching the JWKS surfaces as a plain error.
  return new AppException(
    ErrorCode.ServiceUnavailable,
    'the signing keys could not be fetched; try again shortly',
  );
}
