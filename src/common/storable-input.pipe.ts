/**
 * The global pipe that refuses text PostgreSQL cannot store (see storable-text.ts) in every body,
 * route parameter and query value, before validation and before any handler runs, so no route can
 * forget it. It runs after interceptors, so multipart form fields parsed by an upload interceptor
 * are checked too. Values of custom parameter decorators (the authenticated user) are the
 * server's own and are left alone. It never changes a value.
 */
import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { AppException, ErrorCode } from 'src/common/app.exception';
import { findUnstorable } from 'src/common/storable-text';
import { formatPath } from 'src/common/zod-errors';

@Injectable()
export class StorableInputPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type === 'custom') return value;
    // `@Param('id')` hands over the bare value, so its name starts the path; `@Query()` and
    // `@Body()` hand over the whole object, whose keys are the field names.
    const found = findUnstorable(value, metadata.data ? [metadata.data] : []);
    if (found)
      throw new AppException(ErrorCode.ValidationFailed, `${formatPath(found.path)}: ${found.reason}`);
    return value;
  }
}
