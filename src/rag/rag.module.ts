/**
 * The knowledge base. RagCoreModule holds the services (ingestion, search, the SQL, the
 * embeddings client) and is all the command-line tools need. RagModule adds the REST routes, the
 * start-up work (capability probe, docs seeding), KNOWLEDGE_SEARCH for the offline responder and
 * the agent's `search_knowledge_base` tool.
 *
 * Neither imports the agent module: the tool finds the agent's registry at start-up if the app
 * has one, so the knowledge base works (and is testable) on its own.
 */
import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { TypeOrmModule } from '@nestjs/typeorm';
import { KNOWLEDGE_SEARCH } from 'src/agent/offline.responder';
import { ragConfig, type RagConfig } from 'src/config/rag.config';
import { RagCapabilitiesProbe } from 'src/rag/rag.capabilities';
import { ChunkEntity } from 'src/rag/chunk.entity';
import { DocumentsController, KnowledgeAdminGuard, SearchController } from 'src/rag/rag.controller';
import { DocumentEntity } from 'src/rag/document.entity';
import { EmbeddingsClient } from 'src/rag/rag.embeddings';
import { IngestionService } from 'src/rag/rag.ingestion.service';
import { RagMetrics } from 'src/rag/rag.metrics';
import { KnowledgeRepository } from 'src/rag/rag.repository';
import { SearchService } from 'src/rag/rag.search.service';
import { KnowledgeBaseStartup } from 'src/rag/rag.startup';
import { KnowledgeSearchTool } from 'src/rag/rag.tool';

const core = [
  RagMetrics,
  RagCapabilitiesProbe,
  EmbeddingsClient,
  KnowledgeRepository,
  IngestionService,
  SearchService,
];

@Module({
  imports: [TypeOrmModule.forFeature([DocumentEntity, ChunkEntity])],
  providers: core,
  exports: core,
})
export class RagCoreModule {}

@Module({
  imports: [
    RagCoreModule,
    MulterModule.registerAsync({
      inject: [ragConfig.KEY],
      // Memory storage: the extractor needs the bytes anyway, and the size limit bounds them.
      useFactory: (config: RagConfig) => ({
        limits: { fileSize: config.maxUploadBytes, files: 1, fields: 10, fieldSize: 64 * 1024 },
      }),
    }),
  ],
  controllers: [SearchController, DocumentsController],
  providers: [
    KnowledgeAdminGuard,
    KnowledgeBaseStartup,
    KnowledgeSearchTool,
    { provide: KNOWLEDGE_SEARCH, useExisting: SearchService },
  ],
  exports: [KNOWLEDGE_SEARCH, RagCoreModule],
})
export class RagModule {}
