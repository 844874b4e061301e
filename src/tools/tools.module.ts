/**
 * Tools an operator configures in the tools file (AGENT_TOOLS_FILE): MCP servers and HTTP tools.
 * It validates its sections at boot and exports ConfiguredTools; the agent module, above it,
 * puts them in front of the model. The answers to calls that wait for the user's approval are
 * widget actions, handed to the protocol layer as TOOL_APPROVAL_HANDLERS (the app passes this
 * module to ChatKitModule.register). It never imports the agent or the actions feature.
 */
import { Module } from '@nestjs/common';
import type { ActionHandler } from 'src/chatkit/chatkit.actions';
import { TOOL_APPROVAL_HANDLERS, ToolApprovals } from 'src/tools/tool-approvals.service';
import { ConfiguredTools } from 'src/tools/tools.service';
import { WidgetsModule } from 'src/widgets/widgets.module';

@Module({
  imports: [WidgetsModule],
  providers: [
    ConfiguredTools,
    ToolApprovals,
    {
      provide: TOOL_APPROVAL_HANDLERS,
      useFactory: (approvals: ToolApprovals): ActionHandler[] => approvals.handlers,
      inject: [ToolApprovals],
    },
  ],
  exports: [ConfiguredTools, ToolApprovals, TOOL_APPROVAL_HANDLERS],
})
export class ToolsModule {}
