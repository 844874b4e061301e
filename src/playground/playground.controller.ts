/**
 * GET /playground: a chat page for trying the gateway from a browser, with its static files.
 * The files are public (the page asks the user for an identity and sends it with every call to
 * POST /chatkit, which stays authenticated); they never touch the database, so the page loads
 * during an outage and shows the API's own 503. Not part of the API, so not in the OpenAPI
 * document. Disabled (PLAYGROUND_ENABLED=false, the production default), every route is the same
 * 404 as an unknown path.
 */
import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppException, ErrorCode } from 'src/common/app.exception';
import { Public, WithoutDatabase } from 'src/common/decorators';
import { appConfig, type AppConfig } from 'src/config/app.config';
import { authConfig, type AuthConfig } from 'src/config/auth.config';
import { playgroundConfig, type PlaygroundConfig } from 'src/config/playground.config';
import {
  PUBLIC_DIR,
  publicAssets,
  vendorModules,
  type PlaygroundFile,
} from 'src/playground/playground.files';

/**
 * Everything the page needs comes from this origin: scripts are ES modules from here (no inline
 * script, no eval), styles from here, API calls to here. Images may also be `blob:` URLs, the
 * local previews of files being uploaded. `publicOrigin` (PUBLIC_BASE_URL) is this server too:
 * attachment links and upload URLs are built on it, and the page may be opened under another name.
 */
export function playgroundCsp(publicOrigin?: string): string {
  const self = publicOrigin ? `'self' ${publicOrigin}` : "'self'";
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src ${self} blob:`,
    `connect-src ${self}`,
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function securityHeaders(publicOrigin?: string): Record<string, string> {
  return {
    'Content-Security-Policy': playgroundCsp(publicOrigin),
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
    // Revalidated on every load (sendFile answers 304 when unchanged): a new version of the app
    // is picked up at once, never mixed with cached modules of the previous one.
    'Cache-Control': 'no-cache',
  };
}

@ApiExcludeController()
@Public()
@WithoutDatabase()
// Static files cost no database work, and a page load is eight of them: counted per client address
// (they carry no identity), fifteen loads a minute would spend the default budget of that address.
// The API calls the page makes stay limited per user.
@SkipThrottle()
@Controller('playground')
export class PlaygroundController {
  private readonly page: string | undefined;
  private readonly headers: Record<string, string>;
  private readonly assets = new Map<string, PlaygroundFile>();
  private readonly vendor = new Map<string, PlaygroundFile>();

  constructor(
    @Inject(playgroundConfig.KEY) config: PlaygroundConfig,
    @Inject(authConfig.KEY) auth: AuthConfig,
    @Inject(appConfig.KEY) app: AppConfig,
  ) {
    this.headers = securityHeaders(originOf(app.publicBaseUrl));
    if (!config.enabled) return;
    // The page says which identity form to show first: development headers when the server
    // accepts them, else a bearer token.
    this.page = readFileSync(join(PUBLIC_DIR, 'index.html'), 'utf8').replace(
      '__AUTH_MODE__',
      auth.devMode ? 'dev' : 'token',
    );
    this.assets = publicAssets();
    this.vendor = vendorModules();
  }

  @Get()
  index(@Req() req: Request, @Res() res: Response): void {
    if (this.page === undefined) throw notFound(req);
    res.set(this.headers).type('html').send(this.page);
  }

  @Get('assets/:name')
  async asset(@Param('name') name: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.send(this.assets.get(name), req, res);
  }

  @Get('vendor/:name')
  async vendorModule(@Param('name') name: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.send(this.vendor.get(name), req, res);
  }

  private async send(file: PlaygroundFile | undefined, req: Request, res: Response): Promise<void> {
    if (!file) throw notFound(req);
    res.set(this.headers);
    await new Promise<void>((resolve, reject) =>
      res.sendFile(file.path, { headers: { 'Content-Type': file.contentType } }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }
}

/** The origin of PUBLIC_BASE_URL; a value that is no URL adds nothing to the policy. */
function originOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

function notFound(req: Request): AppException {
  return new AppException(ErrorCode.NotFound, `Cannot ${req.method} ${req.path}`);
}
