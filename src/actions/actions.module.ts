/**
 * Widget actions answered by the operator's HTTP endpoints: one ActionWebhook per entry of the
 * tools file's `actions` section, handed to the protocol layer as ACTION_HANDLERS (the app passes
 * this module to ChatKitModule.register). It never imports the agent or the tools: an answer that
 * starts a turn asks the protocol layer to run the responder.
 */
import { Module } from '@nestjs/common';
import { ActionWebhook } from 'src/actions/action-webhook';
import { actionWebhooksFrom } from 'src/actions/actions.config';
import { ActionsMetrics } from 'src/actions/actions.metrics';
import type { ActionHandler } from 'src/chatkit/chatkit.actions';
import { ACTION_HANDLERS } from 'src/chatkit/chatkit.ports';
import { extensionsConfig, type ExtensionsConfig } from 'src/config/extensions.config';
import { WidgetTemplates } from 'src/widgets/widget-templates.service';
import { WidgetsModule } from 'src/widgets/widgets.module';

@Module({
  imports: [WidgetsModule],
  providers: [
    ActionsMetrics,
    {
      provide: ACTION_HANDLERS,
      useFactory: (
        config: ExtensionsConfig,
        widgets: WidgetTemplates,
        metrics: ActionsMetrics,
      ): ActionHandler[] =>
        actionWebhooksFrom(config).map((webhook) => new ActionWebhook(webhook, widgets, metrics)),
      inject: [extensionsConfig.KEY, WidgetTemplates, ActionsMetrics],
    },
  ],
  exports: [ACTION_HANDLERS],
})
export class ActionsModule {}
