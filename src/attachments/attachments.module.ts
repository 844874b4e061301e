/**
 * The attachments feature: the configured byte store, records in PostgreSQL, signed URLs, the
 * upload/download routes, the cleanup sweep, and the two providers other modules consume —
 * ATTACHMENT_LINKS for the ChatKit protocol (pass this module to ChatKitModule.register's
 * `imports`) and ATTACHMENT_READER for the agent (found by token at request time).
 */
import {
  Inject,
  Logger,
  Module,
  type MiddlewareConsumer,
  type NestModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AttachmentBlobEntity } from 'src/attachments/attachment-blob.entity';
import { AttachmentEntity } from 'src/attachments/attachment.entity';
import { AttachmentStore } from 'src/attachments/attachment.store';
import { AttachmentUrls, RequestOriginMiddleware } from 'src/attachments/attachment.urls';
import { AttachmentsAdminController } from 'src/attachments/attachments-admin.controller';
import { AttachmentsCleanup } from 'src/attachments/attachments.cleanup';
import { AttachmentsController } from 'src/attachments/attachments.controller';
import { AttachmentsMetrics } from 'src/attachments/attachments.metrics';
import { AttachmentsService } from 'src/attachments/attachments.service';
import { ATTACHMENT_STORAGE, type AttachmentStorage } from 'src/attachments/storage/attachment-storage';
import { FilesystemAttachmentStorage } from 'src/attachments/storage/filesystem.storage';
import { PostgresAttachmentStorage } from 'src/attachments/storage/postgres.storage';
import { S3AttachmentStorage } from 'src/attachments/storage/s3.storage';
import { ATTACHMENT_READER } from 'src/agent/history.converter';
import { ATTACHMENT_LINKS } from 'src/chatkit/attachment-links';
import { attachmentsConfig, type AttachmentsConfig } from 'src/config/attachments.config';
import { ALL_ROUTES } from 'src/metrics/http-metrics.middleware';

export function createAttachmentStorage(
  config: AttachmentsConfig,
  dataSource: DataSource,
): AttachmentStorage {
  switch (config.storage) {
    case 'postgres':
      return new PostgresAttachmentStorage({ db: dataSource });
    case 'filesystem':
      return new FilesystemAttachmentStorage({ root: config.dir });
    case 's3':
      return new S3AttachmentStorage({
        bucket: config.s3.bucket!,
        region: config.s3.region,
        endpoint: config.s3.endpoint,
        forcePathStyle: config.s3.forcePathStyle,
        credentials: config.s3.credentials,
        keyPrefix: config.s3.keyPrefix,
        logger: new Logger('AttachmentsS3'),
      });
  }
}

@Module({
  imports: [TypeOrmModule.forFeature([AttachmentEntity, AttachmentBlobEntity])],
  controllers: [AttachmentsController, AttachmentsAdminController],
  providers: [
    {
      provide: ATTACHMENT_STORAGE,
      inject: [attachmentsConfig.KEY, getDataSourceToken()],
      useFactory: createAttachmentStorage,
    },
    AttachmentStore,
    AttachmentUrls,
    AttachmentsMetrics,
    AttachmentsService,
    AttachmentsCleanup,
    { provide: ATTACHMENT_LINKS, useExisting: AttachmentsService },
    { provide: ATTACHMENT_READER, useExisting: AttachmentsService },
  ],
  exports: [ATTACHMENT_LINKS, ATTACHMENT_READER, AttachmentsService],
})
export class AttachmentsModule implements NestModule, OnApplicationShutdown {
  constructor(@Inject(ATTACHMENT_STORAGE) private readonly storage: AttachmentStorage) {}

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestOriginMiddleware).forRoutes(ALL_ROUTES);
  }

  onApplicationShutdown(): void {
    if (this.storage instanceof S3AttachmentStorage) this.storage.close();
  }
}
