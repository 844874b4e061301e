/**
 * What the tools file gives the agent: the configured MCP servers (connected in the background
 * at boot, closed at shutdown) and the HTTP tool definitions. The agent module reads both and
 * hands them to the SDK agent and its tool registry; nothing here knows about the agent.
 *
 * The file is validated when this service is built, so a bad entry stops the boot.
 */
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { extensionsConfig, type ExtensionsConfig } from 'src/config/extensions.config';
import { httpToolDefinition, type HttpToolDefinition } from 'src/tools/http-tool';
import { ConfiguredMcpServer } from 'src/tools/mcp-server';
import { parseToolsConfig } from 'src/tools/tools.schema';

@Injectable()
export class ConfiguredTools implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ConfiguredTools.name);
  readonly mcpServers: ConfiguredMcpServer[];
  readonly httpTools: HttpToolDefinition[];

  constructor(@Inject(extensionsConfig.KEY) config: ExtensionsConfig) {
    const parsed = config.toolsFilePath
      ? parseToolsConfig(config.toolsFile, config.toolsFilePath)
      : { mcpServers: [], httpTools: [] };
    const claims = new Map<string, string>();
    this.mcpServers = parsed.mcpServers.map((entry) => new ConfiguredMcpServer(entry, { claims }));
    this.httpTools = parsed.httpTools.map(httpToolDefinition);
  }

  /** Not awaited: a slow or missing server must not hold up the boot; a turn waits for it instead. */
  onApplicationBootstrap(): void {
    if (this.mcpServers.length || this.httpTools.length)
      this.logger.log(
        `${this.mcpServers.length} MCP server(s), ${this.httpTools.length} HTTP tool(s) configured`,
      );
    for (const server of this.mcpServers) void server.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.mcpServers.map((server) => server.close()));
  }
}
