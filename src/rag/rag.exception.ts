/**
 * The one error type of the knowledge-base feature. `code` is stable and machine-readable so an
 * upload client can tell "we cannot read this kind of file" from "this file is damaged" from
 * "there is no text in it". Messages are shown to the uploader: they may name the file format but
 * must never echo file contents.
 */
import { AppException } from 'src/common/app.exception';

export enum RagErrorCode {
  UnsupportedFormat = 'unsupported_format',
  CorruptFile = 'corrupt_file',
  EmptyDocument = 'empty_document',
}

export class RagException extends Error {
  constructor(
    readonly code: RagErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RagException';
  }

  /** HTTP status for the global filter; exhaustive so a new code cannot ship without one. */
  get status(): number {
    switch (this.code) {
      case RagErrorCode.UnsupportedFormat:
        return 415;
      case RagErrorCode.CorruptFile:
      case RagErrorCode.EmptyDocument:
        return 422;
      default: {
        const unhandled: never = this.code;
        return unhandled;
      }
    }
  }
}

/**
 * The HTTP form of a RagException: the same stable code (`unsupported_format`, `corrupt_file`,
 * `empty_document`) and message, with the status chosen above.
 */
export function toAppException(error: RagException): AppException {
  return new AppException(error.code, error.message, error.status);
}
