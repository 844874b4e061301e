/**
 * Widgets the server builds: the widget schema (kept in step with @openai/chatkit's types), the
 * template syntax and the templates of AGENT_WIDGETS_DIR, checked at boot. The agent's tools and
 * the action webhooks use it; it knows neither.
 */
import { Module } from '@nestjs/common';
import { WidgetTemplates } from 'src/widgets/widget-templates.service';

@Module({
  providers: [WidgetTemplates],
  exports: [WidgetTemplates],
})
export class WidgetsModule {}
