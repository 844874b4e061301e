/**
 * The attachment routes outside the ChatKit protocol: the signed upload target of two-phase
 * uploads, the direct (one-request) upload, downloads by the owner and by signed link, and a REST
 * delete. Signed routes are @Public: the signature is the authorisation, checked before anything
 * else. Every route streams; none may read a whole file into memory (the PostgreSQL driver's own
 * buffering aside).
 */
import {
  applyDecorators,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
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
import { AttachmentSchema } from 'src/protocol/chatkit.schemas';
import { toWireJson } from 'src/protocol/chatkit.wire';
import { ApiBinaryResponse, ApiErrorResponses, ApiFileBody, ApiJsonResponse } from 'src/common/api-docs';
import { Authenticated, CurrentUser, Public } from 'src/common/decorators';
import type { RequestContext } from 'src/common/request-context';
import { DownloadRoute } from 'src/rate-limit/download-route.decorator';

type QueryParams = Record<string, unknown>;

const UPLOAD_ERRORS = {
  400: 'No file in the body (`attachment_bad_body`)',
  403: 'Bad or expired signature (`attachment_signature_invalid`, `attachment_url_expired`)',
  404: 'No such pending attachment (`attachment_not_found`)',
  409: 'Already uploaded, or an upload is running (`attachment_already_uploaded`, `attachment_upload_in_progress`)',
  413: 'Larger than ATTACHMENTS_MAX_BYTES (`attachment_too_large`)',
  415: 'The bytes are not of the declared type (`attachment_type_mismatch`)',
};

/** The query string of a signed URL, as the server wrote it into the link. */
const SignedQuery = () =>
  applyDecorators(
    ApiQuery({ name: 'exp', type: String, required: true, description: 'Expiry, epoch seconds (signed)' }),
    ApiQuery({ name: 'sig', type: String, required: true, description: 'The signature' }),
  );

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
  @ApiFileBody('file', ['multipart/form-data'])
  @ApiOperation({
    summary: 'Upload a file in one request (ChatKit "direct" upload strategy)',
    description:
      'multipart/form-data with the file in the field `file`. Answers with the ready Attachment; reference its id in `input.attachments`.',
  })
  @ApiJsonResponse(200, AttachmentSchema, 'The stored attachment')
  @ApiErrorResponses({
    400: 'No multipart body with a `file` field (`attachment_bad_body`)',
    413: 'Too large, or over the quota (`attachment_too_large`, `attachment_quota_exceeded`)',
    415: 'Type not allowed, or bytes not of the declared type (`attachment_type_not_allowed`, `attachment_type_mismatch`)',
  })
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
  @SignedQuery()
  @ApiFileBody('file', ['application/octet-stream', 'multipart/form-data'])
  @ApiOperation({
    summary: 'Upload target of a two-phase upload (the signed upload_descriptor.url)',
    description:
      'The bytes as a raw body or as multipart/form-data (field `file`). The signature in the query string is the authorisation. Answers with the ready Attachment. POST is accepted too.',
  })
  @ApiJsonResponse(200, AttachmentSchema, 'The stored attachment, ready to be referenced')
  @ApiErrorResponses(UPLOAD_ERRORS)
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
  @SignedQuery()
  @ApiFileBody('file', ['multipart/form-data', 'application/octet-stream'])
  @ApiOperation({
    summary: 'Upload target of a two-phase upload, for clients that POST',
    description: 'A form with the file in the field `file` (or the raw bytes). Same answers as the PUT.',
  })
  @ApiJsonResponse(200, AttachmentSchema, 'The stored attachment, ready to be referenced')
  @ApiErrorResponses(UPLOAD_ERRORS)
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
  @ApiQuery({ name: 'download', required: false, enum: ['1', 'true'] })
  @ApiBinaryResponse(200, 'The bytes, with their Content-Type')
  @ApiBinaryResponse(206, 'The requested Range')
  @ApiResponse({ status: 304, description: 'Not modified (If-None-Match)' })
  @ApiErrorResponses({
    404: 'No such attachment, or not yours (`attachment_not_found`)',
    416: 'Range not satisfiable',
  })
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
  @SignedQuery()
  @ApiQuery({ name: 'disp', required: false, enum: ['inline', 'attachment'], description: 'Signed too' })
  @ApiOperation({
    summary: 'Download by signed link (preview_url)',
    description: 'Valid until `exp`; the signature covers the id, the expiry and the disposition.',
  })
  @ApiBinaryResponse(200, 'The bytes, with their Content-Type')
  @ApiBinaryResponse(206, 'The requested Range')
  @ApiResponse({ status: 304, description: 'Not modified (If-None-Match)' })
  @ApiErrorResponses({
    403: 'Bad or expired signature (`attachment_signature_invalid`, `attachment_url_expired`)',
    404: 'No such attachment (`attachment_not_found`)',
    416: 'Range not satisfiable',
  })
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
  @ApiResponse({ status: 204, description: 'Deleted' })
  @ApiErrorResponses({ 404: 'No such attachment, or not yours (`attachment_not_found`)' })
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
