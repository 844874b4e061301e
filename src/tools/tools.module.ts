/**
 * Tools an operator configures in the tools file (AGENT_TOOLS_FILE): MCP servers and HTTP tools.
 * It validates its sections at boot and exports ConfiguredTools; the agent module, above it,
 * puts them in front of the model. It never imports the agent or the actions feature.
 */
import { Module } from '@nestjs/common';
import { ConfiguredTools } from 'src/tools/tools.service';

@Module({
  providers: [ConfiguredTools],
  exports: [ConfiguredTools],
})
export class ToolsModule {}
