/**
 * The knowledge base. RagCoreModule holds the services (ingestion, search, the SQL, the
 * embeddings client) and is all the command-line tools need. RagModule adds the REST routes, the
 * start-up work (capability probe, docs seeding) and the search tool, and exports SearchService
 * and KnowledgeSearchTool for the agent, which imports this module and registers the tool.
 *
 * Neither module may import the agent (or anything above the knowledge base): the knowledge base
 * works, and is testable, on its own.
 */
import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ragConfig, type RagConfig } from 'src/config/rag.config';
import { RagCapabilitiesProbe } from 'src/rag/rag.capabilities';
import { ChunkEntity } from 'src/rag/chunk.entity';
import { DocumentsController, SearchController } from 'src/rag/rag.controller';
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
  providers: [KnowledgeBaseStartup, KnowledgeSearchTool],
  exports: [RagCoreModule, KnowledgeSearchTool],
})
export class RagModule {}
