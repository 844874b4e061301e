/** The protocol's Prometheus metrics, registered once on the shared registry. */
import { Injectable } from '@nestjs/common';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from 'src/metrics/metrics.service';

@Injectable()
export class ChatKitMetrics {
  readonly requests: Counter<'type' | 'outcome'>;
  readonly activeStreams: Gauge<never>;
  readonly streamDuration: Histogram<'type'>;
  readonly timeToFirstEvent: Histogram<'type'>;
  readonly cancellations: Counter<'type'>;
  readonly slowReaderCuts: Counter<'type'>;
  readonly feedback: Counter<'kind'>;

  constructor(metrics: MetricsService) {
    this.requests = metrics.counter('chatkit_requests_total', 'ChatKit requests by type and outcome', [
      'type',
      'outcome',
    ]);
    this.activeStreams = metrics.gauge('chatkit_active_streams', 'SSE responses currently streaming', []);
    this.streamDuration = metrics.histogram(
      'chatkit_stream_duration_seconds',
      'Length of SSE responses',
      ['type'],
      [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    );
    this.timeToFirstEvent = metrics.histogram(
      'chatkit_time_to_first_event_seconds',
      'Time from the stream opening to the first event of the responder',
      ['type'],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    );
    this.cancellations = metrics.counter(
      'chatkit_stream_cancellations_total',
      'Streams stopped by the client',
      ['type'],
    );
    this.slowReaderCuts = metrics.counter(
      'chatkit_stream_slow_reader_cuts_total',
      'Streams cut because the client left its buffer full for CHATKIT_SLOW_READER_TIMEOUT_MS',
      ['type'],
    );
    this.feedback = metrics.counter('chatkit_feedback_total', 'Feedback submitted on items, by kind', [
      'kind',
    ]);
  }
}
