/**
 * The one error type of the attachments feature. It is an AppException, so the global filter
 * answers it as `{statusCode, code, message, requestId}`; the codes are stable strings a client
 * can switch on (a full quota is not the same problem as one oversized file). Messages may name an
 * attachment id, a size or a type; they must never echo file contents or another user's data.
 */
import { AppException } from 'src/common/app.exception';

export enum AttachmentErrorCode {
  TooLarge = 'attachment_too_large',
  QuotaExceeded = 'attachment_quota_exceeded',
  TypeNotAllowed = 'attachment_type_not_allowed',
  TypeMismatch = 'attachment_type_mismatch',
  BadBody = 'attachment_bad_body',
  SignatureInvalid = 'attachment_signature_invalid',
  UrlExpired = 'attachment_url_expired',
  NotFound = 'attachment_not_found',
  NotReady = 'attachment_not_ready',
  AlreadyUploaded = 'attachment_already_uploaded',
  UploadInProgress = 'attachment_upload_in_progress',
  InUse = 'attachment_in_use',
  StorageFailed = 'attachment_storage_failed',
  CleanupInProgress = 'attachment_cleanup_in_progress',
}

export class AttachmentException extends AppException {
  constructor(
    override readonly code: AttachmentErrorCode,
    message: string,
    headers: Record<string, string> = {},
  ) {
    super(code, message, statusFor(code), headers);
    this.name = 'AttachmentException';
  }
}

/** Exhaustive, so a new code cannot ship without a status. */
function statusFor(code: AttachmentErrorCode): number {
  switch (code) {
    case AttachmentErrorCode.TooLarge:
    case AttachmentErrorCode.QuotaExceeded:
      return 413;
    case AttachmentErrorCode.TypeNotAllowed:
    case AttachmentErrorCode.TypeMismatch:
      return 415;
    case AttachmentErrorCode.BadBody:
    case AttachmentErrorCode.NotReady:
    case AttachmentErrorCode.InUse:
      return 400;
    case AttachmentErrorCode.SignatureInvalid:
    case AttachmentErrorCode.UrlExpired:
      return 403;
    case AttachmentErrorCode.NotFound:
      return 404;
    case AttachmentErrorCode.AlreadyUploaded:
    case AttachmentErrorCode.UploadInProgress:
    case AttachmentErrorCode.CleanupInProgress:
      return 409;
    case AttachmentErrorCode.StorageFailed:
      return 503;
    default: {
      const unhandled: never = code;
      return unhandled;
    }
  }
}
