/**
 * The file types attachments know by name: the Office formats, the default allow-list and the
 * one way a MIME type is normalised. Configuration validates ATTACHMENTS_ALLOWED_MIME with these,
 * so they live below both the config namespace and the attachments module; nothing here may
 * decide what a file really is (that is the attachments module's job, from its bytes).
 */

export const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
export const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
export const PPTX = 'application/vnd.openxmlformats-officedocument.presentationml.presentation';
export const DOC = 'application/msword';
export const XLS = 'application/vnd.ms-excel';
export const PPT = 'application/vnd.ms-powerpoint';

export const DEFAULT_ALLOWED_MIME_TYPES: readonly string[] = Object.freeze([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'application/pdf',
  'text/plain',
  'text/markdown',
  'text/csv',
  'application/json',
  DOCX,
  XLSX,
  PPTX,
  DOC,
  XLS,
  PPT,
]);

const ALIASES = new Map<string, string>(
  Object.entries({
    'image/jpg': 'image/jpeg',
    'image/pjpeg': 'image/jpeg',
    'image/x-png': 'image/png',
    'text/x-markdown': 'text/markdown',
    'text/json': 'application/json',
    'application/csv': 'text/csv',
    'text/comma-separated-values': 'text/csv',
  }),
);

/** Lower-cased, parameters (`; charset=…`) dropped, common aliases mapped to their standard name. */
export function normalizeMimeType(mime: string | undefined | null): string {
  if (!mime) return '';
  const bare = mime.split(';', 1)[0].trim().toLowerCase();
  return ALIASES.get(bare) ?? bare;
}
