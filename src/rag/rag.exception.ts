/**
 * The one error type of the knowledge-base feature. It is an AppException, so the global filter
 * answers it as `{statusCode, code, message, requestId}`; `code` is stable and machine-readable so
 * an upload client can tell "we cannot read this kind of file" from "this file is damaged" from
 * "there is no text in it". Messages are shown to the uploader: they may name the file format but
 * must never echo file contents.
 */
import { AppException } from 'src/common/app.exception';

export enum RagErrorCode {
  UnsupportedFormat = 'unsupported_format',
  CorruptFile = 'corrupt_file',
  EmptyDocument = 'empty_document',
}

export class RagException extends AppException {
  constructor(
    override readonly code: RagErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, statusFor(code));
    this.name = 'RagException';
    // Why a file could not be read (the parser's own error) stays for the log, never the client.
    if (options) this.cause = options.cause;
  }
}

/** Exhaustive, so a new code cannot ship without a status. */
function statusFor(code: RagErrorCode): number {
  switch (code) {
    case RagErrorCode.UnsupportedFormat:
      return 415;
    case RagErrorCode.CorruptFile:
    case RagErrorCode.EmptyDocument:
      return 422;
    default: {
      const unhandled: never = code;
      return unhandled;
    }
  }
}
