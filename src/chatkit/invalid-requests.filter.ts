/**
 * Counts the /chatkit bodies the global validation pipe refuses, by the type they claim, then
 * answers like the app's one exception filter (it is that filter, narrowed to validation
 * refusals of this controller). A filter runs only when something was thrown, where an
 * interceptor wrapped every /chatkit call in an observable chain just to watch for this error.
 * The handler's own failures are counted by ChatKitService and must not be counted again: they
 * are never ZodValidationExceptions.
 */
import { Catch, Injectable, type ArgumentsHost } from '@nestjs/common';
import type { Request } from 'express';
import { invalidRequestType } from 'src/chatkit/chatkit-request.dto';
import { ChatKitMetrics } from 'src/chatkit/chatkit.metrics';
import { AllExceptionsFilter } from 'src/common/all-exceptions.filter';
import { ZodValidationException } from 'src/common/zod-validation.pipe';

@Injectable()
@Catch(ZodValidationException)
export class InvalidRequestsFilter extends AllExceptionsFilter {
  constructor(private readonly metrics: ChatKitMetrics) {
    super();
  }

  override catch(exception: ZodValidationException, host: ArgumentsHost): void {
    const body: unknown = host.switchToHttp().getRequest<Request>().body;
    this.metrics.requests.inc({ type: invalidRequestType(body), outcome: 'invalid' });
    super.catch(exception, host);
  }
}
