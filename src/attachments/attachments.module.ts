/**
 * The attachments feature: the configured byte store, records in PostgreSQL, signed URLs, the
 * upload/download routes, the cleanup sweep, and what the modules above import this module to
 * inject: AttachmentLinksService (the ChatKit protocol) and AttachmentReaderService (the agent). It
 * must never import them, and nothing outside this folder may reach the storage driver. Its
 * request-origin middleware (rememberRequestOrigin) is mounted by configureApp, outside Nest's routing.
 */
import { Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AttachmentBlobEntity } from 'src/attachments/attachment-blob.entity';
import { AttachmentDownloadsService } from 'src/attachments/attachment-downloads.service';
import { AttachmentEntity } from 'src/attachments/attachment.entity';
import { AttachmentIntakeService } from 'src/attachments/attachment-intake.service';
import { AttachmentLinksService } from 'src/attachments/attachment-links.service';
import { AttachmentReaderService } from 'src/attachments/attachment-reader.service';
import { AttachmentRefusals } from 'src/attachments/attachment.refusals';
import { AttachmentStore } from 'src/attachments/attachment.store';
import { AttachmentUrls } from 'src/attachments/attachment.urls';
import { AttachmentsAdminController } from 'src/attachments/attachments-admin.controller';
import { AttachmentsCleanup } from 'src/attachments/attachments.cleanup';
import { AttachmentsController } from 'src/attachments/attachments.controller';
import { AttachmentsMetrics } from 'src/attachments/attachments.metrics';
import { ATTACHMENT_STORAGE, type AttachmentStorage } from 'src/attachments/storage/attachment-storage';
import { FilesystemAttachmentStorage } from 'src/attachments/storage/filesystem.storage';
import { PostgresAttachmentStorage } from 'src/attachments/storage/postgres.storage';
import { S3AttachmentStorage } from 'src/attachments/storage/s3.storage';
import { withStorageSpans } from 'src/attachments/storage/traced.storage';
import { attachmentsConfig, type AttachmentsConfig } from 'src/config/attachments.config';

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
      useFactory: (config: AttachmentsConfig, dataSource: DataSource) =>
        withStorageSpans(createAttachmentStorage(config, dataSource)),
    },
    AttachmentStore,
    AttachmentUrls,
    AttachmentsMetrics,
    AttachmentRefusals,
    AttachmentIntakeService,
    AttachmentDownloadsService,
    AttachmentLinksService,
    AttachmentReaderService,
    AttachmentsCleanup,
  ],
  exports: [AttachmentLinksService, AttachmentReaderService],
})
export class AttachmentsModule implements OnApplicationShutdown {
  constructor(@Inject(ATTACHMENT_STORAGE) private readonly storage: AttachmentStorage) {}

  async onApplicationShutdown(): Promise<void> {
    await this.storage.close?.();
  }
}
