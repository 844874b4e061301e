/**
 * Marks a file download route. Downloads draw on their own rate-limit budget
 * (RATE_LIMIT_DOWNLOADS_MAX) instead of the API's: a thread with a dozen image previews would
 * otherwise spend a user's, or a whole office's shared IP's, API budget in one page load.
 */
import { SetMetadata, type ExecutionContext } from '@nestjs/common';

const DOWNLOAD_ROUTE = 'rateLimit:downloadRoute';

export const DownloadRoute = () => SetMetadata(DOWNLOAD_ROUTE, true);

export function isDownloadRoute(context: ExecutionContext): boolean {
  return Reflect.getMetadata(DOWNLOAD_ROUTE, context.getHandler()) === true;
}
