/**
 * The attachments feature's Prometheus metrics, registered once on the shared registry. Labels
 * are bounded sets (flow, result, reason, storage kind); never an id, a user or a file name.
 */
import { Injectable } from '@nestjs/common';
import type { Counter } from 'prom-client';
import { MetricsService } from 'src/metrics/metrics.service';

export type UploadFlow = 'two_phase' | 'direct' | 'presigned';

@Injectable()
export class AttachmentsMetrics {
  readonly bytesIn: Counter<'storage'>;
  readonly bytesOut: Counter<'storage'>;
  readonly uploads: Counter<'flow' | 'result'>;
  readonly rejects: Counter<'reason'>;
  readonly downloads: Counter<'route' | 'status'>;
  readonly cleanupRemoved: Counter<'kind'>;
  readonly cleanupRuns: Counter<'result'>;

  constructor(metrics: MetricsService) {
    this.bytesIn = metrics.counter(
      'attachment_bytes_in_total',
      'Attachment bytes stored, by storage driver',
      ['storage'],
    );
    this.bytesOut = metrics.counter(
      'attachment_bytes_out_total',
      'Attachment bytes served, by storage driver',
      ['storage'],
    );
    this.uploads = metrics.counter(
      'attachment_uploads_total',
      'Attachment uploads by flow and result (ok, rejected, failed)',
      ['flow', 'result'],
    );
    this.rejects = metrics.counter('attachment_rejects_total', 'Refused attachment requests, by reason', [
      'reason',
    ]);
    this.downloads = metrics.counter(
      'attachment_downloads_total',
      'Attachment downloads by route and status',
      ['route', 'status'],
    );
    this.cleanupRemoved = metrics.counter(
      'attachment_cleanup_removed_total',
      'Attachments and stored objects removed by cleanup, by kind',
      ['kind'],
    );
    this.cleanupRuns = metrics.counter(
      'attachment_cleanup_runs_total',
      'Cleanup sweeps that delete, by result: ok, failed, or skipped (another replica held the sweep)',
      ['result'],
    );
  }
}
