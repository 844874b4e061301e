/**
 * How an attachment request is turned away: every refusal is counted (by reason, and by upload
 * flow when an upload was refused), logged with who and what, and becomes one AttachmentException.
 * Signed-link checks live here because a bad or expired signature is the most common refusal of
 * all. Nothing it logs may carry file contents, a signature or a URL.
 */
import { Injectable, Logger } from '@nestjs/common';
import { AttachmentErrorCode, AttachmentException } from 'src/attachments/attachment.exception';
import type { SignedUrlPurpose } from 'src/attachments/attachment.signer';
import { AttachmentUrls } from 'src/attachments/attachment.urls';
import { AttachmentsMetrics, type UploadFlow } from 'src/attachments/attachments.metrics';

/** Who a refusal concerns, as far as it is known. */
export interface RefusalSubject {
  userId?: string;
  flow?: UploadFlow;
  attachmentId?: string;
}

@Injectable()
export class AttachmentRefusals {
  private readonly logger = new Logger('Attachments');

  constructor(
    private readonly urls: AttachmentUrls,
    private readonly metrics: AttachmentsMetrics,
  ) {}

  /** Counts, logs and builds one refusal. */
  reject(
    who: RefusalSubject,
    code: AttachmentErrorCode,
    message: string,
    facts: Record<string, unknown> = {},
  ): AttachmentException {
    const reason = code.replace(/^attachment_/, '');
    this.metrics.rejects.inc({ reason });
    if (who.flow && code !== AttachmentErrorCode.NotFound)
      this.metrics.uploads.inc({ flow: who.flow, result: 'rejected' });
    this.logger.warn(
      {
        event: 'attachment.reject',
        reason,
        attachmentId: who.attachmentId,
        userId: who.userId,
        flow: who.flow,
        ...facts,
      },
      `attachment refused: ${reason}`,
    );
    return new AttachmentException(code, message);
  }

  /** Throws 403 unless `query` carries a valid, unexpired signature of `purpose` for `id`. */
  checkSignature(id: string, purpose: SignedUrlPurpose, query: Record<string, unknown>): void {
    const result = this.urls.verify(id, purpose, query);
    if (result.ok) return;
    const who = { flow: purpose === 'upload' ? ('two_phase' as const) : undefined, attachmentId: id };
    if (result.reason === 'expired') {
      throw this.reject(who, AttachmentErrorCode.UrlExpired, 'this link has expired; ask for a new one');
    }
    throw this.reject(who, AttachmentErrorCode.SignatureInvalid, 'this link is not valid');
  }
}
