/**
 * The one validation pipe: registered globally for every parameter typed with a zod DTO
 * (`createZodDto`), or used explicitly as `@Body(new ZodValidationPipe(Schema))`. A bad value is
 * a 400 `validation_failed` whose message formatZodError builds from the issues and the value, so
 * it can say "required" or "received string" without repeating what was sent. It must never
 * validate anything twice: a handler receives the parsed value and trusts it.
 */
import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { AppException, ErrorCode } from 'src/common/app.exception';
import { formatZodError } from 'src/common/zod-errors';

/** A class made by `createZodDto`: it carries its schema. */
function schemaOfDto(metatype: unknown): z.ZodType | undefined {
  if (typeof metatype !== 'function' || !('isZodDto' in metatype) || !('schema' in metatype))
    return undefined;
  return metatype.schema as z.ZodType;
}

/**
 * The pipe's refusal. Answered exactly like any AppException; its own class only lets a route tell
 * a bad body from a failure of its handler (the /chatkit metric counts invalid requests).
 */
export class ZodValidationException extends AppException {}

@Injectable()
export class ZodValidationPipe implements PipeTransform {
  constructor(private readonly schema?: z.ZodType) {}

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const schema = this.schema ?? schemaOfDto(metadata.metatype);
    if (!schema) return value;
    const result = schema.safeParse(value);
    if (!result.success)
      throw new ZodValidationException(ErrorCode.ValidationFailed, formatZodError(result.error, value));
    return result.data;
  }
}
