/**
 * Builds the absolute, signed URLs handed to clients: the upload target of a two-phase upload and
 * the download link used as `preview_url`. The origin is PUBLIC_BASE_URL when set; otherwise the
 * one the current request came in on (protocol and host as Express reports them, which honours
 * `trust proxy`), remembered per request by a middleware because the protocol layer passes only a
 * RequestContext. Without either (a background job) the URL is root-relative.
 * It must never put anything but the id, expiry, disposition and signature in a URL.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import {
  UrlSigner,
  type SignedUrlDisposition,
  type SignedUrlPurpose,
  type VerifyResult,
} from 'src/attachments/attachment.signer';
import { appConfig, type AppConfig } from 'src/config/app.config';
import { attachmentsConfig, type AttachmentsConfig } from 'src/config/attachments.config';

const requestOrigin = new AsyncLocalStorage<string>();

/**
 * Remembers the origin of each request for the URLs built while serving it. A plain Express
 * middleware mounted by configureApp (src/app.setup.ts): on a Nest catch-all route, matching the
 * route cost more than the middleware itself on every request.
 */
export function rememberRequestOrigin(req: Request, _res: Response, next: NextFunction): void {
  const host = req.host;
  const origin = host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? `${req.protocol}://${host}` : '';
  requestOrigin.run(origin, next);
}

export const ATTACHMENT_ROUTE = '/chatkit/attachments';

@Injectable()
export class AttachmentUrls {
  private readonly logger = new Logger('Attachments');
  private readonly signer: UrlSigner;
  private readonly publicBase: string | undefined;

  constructor(
    @Inject(attachmentsConfig.KEY) private readonly config: AttachmentsConfig,
    @Inject(appConfig.KEY) app: AppConfig,
  ) {
    this.signer = new UrlSigner({ currentKey: config.signingKey, previousKeys: config.previousSigningKeys });
    this.publicBase = app.publicBaseUrl?.replace(/\/+$/, '');
    if (config.signingKeyGenerated) {
      this.logger.warn(
        'ATTACHMENTS_SIGNING_KEY is not set: using a random key for this process. Attachment links stop working on restart and are not valid on other replicas.',
      );
    }
  }

  /** Where the client PUTs (or POSTs) the bytes of a two-phase upload. */
  uploadUrl(id: string): string {
    const expiresAt = new Date(Date.now() + this.config.uploadUrlTtlS * 1000);
    const query = this.signer.signedQuery({ id, purpose: 'upload', expiresAt });
    return `${this.base()}${ATTACHMENT_ROUTE}/${encodeURIComponent(id)}/upload?${query}`;
  }

  /** A link that serves the bytes without a bearer token until it expires. */
  downloadUrl(id: string, disposition: SignedUrlDisposition): string {
    const expiresAt = new Date(Date.now() + this.config.downloadUrlTtlS * 1000);
    const query = this.signer.signedQuery({ id, purpose: 'download', expiresAt, disposition });
    return `${this.base()}${ATTACHMENT_ROUTE}/${encodeURIComponent(id)}/content?${query}`;
  }

  verify(id: string, purpose: SignedUrlPurpose, query: Record<string, unknown>): VerifyResult {
    return this.signer.verify({ id, purpose, exp: query.exp, sig: query.sig, disp: query.disp });
  }

  private base(): string {
    return this.publicBase ?? requestOrigin.getStore() ?? '';
  }
}
