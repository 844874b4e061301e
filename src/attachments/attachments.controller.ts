/**
 * The attachment routes outside the ChatKit protocol: the signed upload target of two-phase
 * uploads, the direct (one-request) upload, downloads by the owner and by signed link, and a REST
 * delete. Signed routes are @Public: the signature is the authorisation, checked before anything
 * else. Every route streams; none may read a whole file into memory (the PostgreSQL driver's own
 * buffering aside).
 */
import { Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import { ApiConsumes, ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import {
  AttachmentDownloadsService,
  type DownloadAccess,
} from 'src/attachments/attachment-downloads.service';
import { AttachmentIntakeService } from 'src/attachments/attachment-intake.service';
import { AttachmentLinksService } from 'src/attachments/attachment-links.service';
import { sendAttachment } from 'src/attachments/attachment.download';
import { AttachmentErrorCode, AttachmentException } from 'src/attachments/attachment.exception';
import { declaredLength, finishRejectedUpload, receiveFile } from 'src/attachments/attachment.intake';
import type { SignedUrlDisposition } from 'src/attachments/attachment.signer';
import type { AttachmentRecord } from 'src/attachments/attachment.store';
import { toWireJson } from 'src/protocol/chatkit.wire';
import { Authenticated, CurrentUser, Public } from 'src/common/decorators';
import type { RequestContext } from 'src/common/request-context';
import { DownloadRoute } from 'src/rate-limit/download-route.decorator';

type QueryParams = Record<string, unknown>;

@ApiTags('attachments')
@Controller('chatkit/attachments')
export class AttachmentsController {
  constructor(
    private readonly intake: AttachmentIntakeService,
    private readonly downloads: AttachmentDownloadsService,
    private readonly links: AttachmentLinksService,
  ) {}

  @Post()
  @HttpCode(200)
  @Authenticated()
  @ApiConsumes('multipart/form-data')
  @ApiOperation({
    summary: 'Upload a file in one request (ChatKit "direct" upload strategy)',
    description:
      'multipart/form-data with the file in the field `file`. Answers with the ready Attachment; reference its id in `input.attachments`.',
  })
  @ApiResponse({ status: 200, description: 'The stored attachment' })
  @ApiResponse({ status: 413, description: 'attachment_too_large or attachment_quota_exceeded' })
  @ApiResponse({ status: 415, description: 'attachment_type_not_allowed or attachment_type_mismatch' })
  async direct(@CurrentUser() ctx: RequestContext, @Req() req: Request, @Res() res: Response): Promise<void> {
    try {
      const file = await receiveFile(req);
      if (!file.multipart) {
        throw new AttachmentException(
          AttachmentErrorCode.BadBody,
          'send the file as multipart/form-data in the field "file"',
        );
      }
      const attachment = await this.intake.receiveDirect(ctx, file, declaredLength(req));
      res.status(200).type('application/json').send(toWireJson(attachment));
    } catch (err) {
      finishRejectedUpload(req, res);
      throw err;
    }
  }

  @Put(':id/upload')
  @HttpCode(200)
  @Public()
  @ApiParam({ name: 'id', description: 'Attachment id from attachments.create' })
  @ApiConsumes('multipart/form-data', 'application/octet-stream')
  @ApiOperation({
    summary: 'Upload target of a two-phase upload (the signed upload_descriptor.url)',
    description:
      'The bytes as multipart/form-data (field `file`) or as a raw body. The signature in the query string is the authorisation. Answers with the ready Attachment. POST is accepted too.',
  })
  @ApiResponse({ status: 403, description: 'attachment_signature_invalid or attachment_url_expired' })
  @ApiResponse({ status: 413, description: 'attachment_too_large' })
  @ApiResponse({ status: 415, description: 'attachment_type_mismatch' })
  async uploadPut(
    @Param('id') id: string,
    @Query() query: QueryParams,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.upload(id, query, req, res);
  }

  @Post(':id/upload')
  @HttpCode(200)
  @Public()
  @ApiParam({ name: 'id', description: 'Attachment id from attachments.create' })
  @ApiConsumes('multipart/form-data', 'application/octet-stream')
  @ApiOperation({ summary: 'Upload target of a two-phase upload, for clients that POST' })
  async uploadPost(
    @Param('id') id: string,
    @Query() query: QueryParams,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.upload(id, query, req, res);
  }

  @Get(':id')
  @Authenticated()
  @DownloadRoute()
  @ApiParam({ name: 'id' })
  @ApiProduces('application/octet-stream')
  @ApiOperation({
    summary: 'Download one of your attachments',
    description: 'Supports Range and If-None-Match. `?download=1` forces a download even for images.',
  })
  async download(
    @CurrentUser() ctx: RequestContext,
    @Param('id') id: string,
    @Query('download') download: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const record = await this.downloads.findForOwner(ctx, id);
    const disposition = download === '1' || download === 'true' ? 'attachment' : 'inline';
    await this.send(req, res, record, 'owner', disposition, 'private, no-cache', ctx.userId);
  }

  @Get(':id/content')
  @Public()
  @DownloadRoute()
  @ApiParam({ name: 'id' })
  @ApiProduces('application/octet-stream')
  @ApiOperation({
    summary: 'Download by signed link (preview_url)',
    description: 'Valid until `exp`; the signature covers the id, the expiry and the disposition.',
  })
  @ApiResponse({ status: 403, description: 'attachment_signature_invalid or attachment_url_expired' })
  async content(
    @Param('id') id: string,
    @Query() query: QueryParams,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const record = await this.downloads.findForSignedDownload(id, query);
    const exp = Number(query.exp);
    const maxAge = Math.max(0, Math.floor(exp - Date.now() / 1000));
    const disposition: SignedUrlDisposition = query.disp === 'inline' ? 'inline' : 'attachment';
    await this.send(req, res, record, 'signed', disposition, `private, max-age=${maxAge}`, undefined);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authenticated()
  @ApiParam({ name: 'id' })
  @ApiOperation({ summary: 'Delete one of your attachments (same as attachments.delete)' })
  async remove(@CurrentUser() ctx: RequestContext, @Param('id') id: string): Promise<void> {
    await this.links.delete(ctx, id);
  }

  private async upload(id: string, query: QueryParams, req: Request, res: Response): Promise<void> {
    try {
      this.intake.verifyUpload(id, query);
      const file = await receiveFile(req);
      const attachment = await this.intake.receiveUpload(id, file, declaredLength(req));
      res.status(200).type('application/json').send(toWireJson(attachment));
    } catch (err) {
      finishRejectedUpload(req, res);
      throw err;
    }
  }

  private async send(
    req: Request,
    res: Response,
    record: AttachmentRecord,
    route: DownloadAccess,
    disposition: SignedUrlDisposition,
    cacheControl: string,
    userId: string | undefined,
  ): Promise<void> {
    const started = Date.now();
    const result = await sendAttachment(
      req,
      res,
      record,
      (range) => this.downloads.open(record, route, range),
      {
        disposition,
        cacheControl,
      },
    );
    this.downloads.served(record, route, result, userId, started);
  }
}
