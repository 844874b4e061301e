/**
 * The global authentication guard. Builds the RequestContext for every non-public route from a
 * bearer JWT, or — in development mode only — from the X-User-ID header. Never lets a request
 * through without an identity, and never answers a bad token with anything but a 401.
 */
import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { authConfig, type AuthConfig } from 'src/config/auth.config';
import { AppException, ErrorCode } from 'src/common/app.exception';
import { IS_PUBLIC } from 'src/common/decorators';
import { requestIdOf, type AuthenticatedRequest } from 'src/common/request-context';
import { JwtVerifier } from 'src/auth/jwt-verifier.service';

const DEV_ID_RULE = '[A-Za-z0-9_.:@-]{1,255}';
const DEV_ID = new RegExp(`^${DEV_ID_RULE}$`);

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: JwtVerifier,
    @Inject(authConfig.KEY) private readonly config: AuthConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;

    const header = req.headers.authorization;
    if (header) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (!match)
        throw new AppException(ErrorCode.TokenMalformed, 'the Authorization header must be "Bearer <token>"');
      if (!this.verifier.configured) {
        throw new AppException(ErrorCode.AuthNotConfigured, 'no token issuer is configured on this server');
      }
      const identity = await this.verifier.verify(match[1]);
      req.context = { ...identity, requestId: requestIdOf(req), metadata: {} };
      return true;
    }
    if (this.config.devMode) {
      const userId = req.headers['x-user-id'];
      const orgId = req.headers['x-org-id'];
      if (typeof userId === 'string') {
        // A header that is present but invalid is refused, never read as "no user" or "no org".
        if (!DEV_ID.test(userId)) {
          throw new AppException(
            ErrorCode.TokenInvalidClaims,
            `the X-User-ID header must match ${DEV_ID_RULE} (development mode)`,
          );
        }
        if (orgId !== undefined && !(typeof orgId === 'string' && DEV_ID.test(orgId))) {
          throw new AppException(
            ErrorCode.TokenInvalidOrgClaim,
            `the X-Org-ID header must match ${DEV_ID_RULE} when sent (development mode)`,
          );
        }
        if (orgId === undefined && this.config.orgRequired) {
          throw new AppException(
            ErrorCode.TokenInvalidOrgClaim,
            'an X-Org-ID header is required: this server requires an organisation (development mode)',
          );
        }
        req.context = {
          userId,
          orgId,
          isAdmin: req.headers['x-user-role'] === 'admin',
          requestId: requestIdOf(req),
          metadata: {},
        };
        return true;
      }
      throw new AppException(
        ErrorCode.TokenMissing,
        'send a bearer token, or an X-User-ID header (development mode)',
      );
    }
    if (!this.verifier.configured) {
      throw new AppException(
        ErrorCode.AuthNotConfigured,
        'no token issuer is configured: set AUTH_JWT_SECRET or AUTH_JWKS_URL, or AUTH_DEV_MODE=true for local development',
      );
    }
    throw new AppException(ErrorCode.TokenMissing, 'a bearer token is required');
  }
}
