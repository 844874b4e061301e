/**
 * Errors a responder or action may throw on purpose inside a stream. A CustomStreamError's message
 * is shown to the user (code "custom"); anything else becomes the generic "stream.error" with
 * retry allowed, and its details stay in the log.
 */
export class CustomStreamError extends Error {
  constructor(
    message: string,
    readonly allowRetry = false,
  ) {
    super(message);
    this.name = 'CustomStreamError';
  }
}
