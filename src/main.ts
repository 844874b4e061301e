/** Bootstrap only: validate the environment, build the app, listen. */
// First: tracing, when configured, must patch http, express, pg and ioredis before they load.
import 'src/telemetry/tracing.bootstrap';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from 'src/app.module';
import { configureApp } from 'src/app.setup';
import { validateAllConfig } from 'src/config/config.registry';
import { ConfigValidationError } from 'src/config/env.schema';
import { validateToolsFile } from 'src/tools/tools.schema';

async function bootstrap(): Promise<void> {
  validateAllConfig();
  validateToolsFile();
  // A failure while the modules start (a bad widget template, say) rejects here, reported once
  // below, instead of Nest logging it with its stack and exiting. Nest's own start-up lines are
  // buffered until configureApp hands it the app's logger.
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    bufferLogs: true,
    abortOnError: false,
    logger: false,
  });
  const config = configureApp(app);
  try {
    await app.listen(config.port, config.host);
  } catch (err) {
    process.stderr.write(`${listenFailure(err, config.host, config.port)}\n`);
    await app.close().catch(() => undefined);
    process.exit(1);
  }
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  process.stdout.write(
    `ChatKit Gateway listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port} (API docs at /docs)\n`,
  );
}

/** Says which address could not be taken and why, instead of an unhandled rejection. */
function listenFailure(err: unknown, host: string, port: number): string {
  const code = (err as { code?: string } | undefined)?.code;
  const where = `${host}:${port}`;
  if (code === 'EADDRINUSE')
    return `Cannot listen on ${where}: the port is already in use by another process. Stop it or set PORT to a free port.`;
  if (code === 'EACCES')
    return `Cannot listen on ${where}: permission denied (ports below 1024 need privileges). Set PORT to 1024 or above.`;
  if (code === 'EADDRNOTAVAIL')
    return `Cannot listen on ${where}: the address is not available on this machine. Check HOST.`;
  const message = err instanceof Error ? err.message : String(err);
  return `Cannot listen on ${where}: ${code ? `${code} ` : ''}${message}`;
}

bootstrap().catch((err: unknown) => {
  // A bad setting, or a file a setting names (the tools file, a widget template): what is wrong
  // and where, without a stack trace.
  if (err instanceof ConfigValidationError) {
    process.stderr.write(`${err.message}\nSee docs/configuration.md for every setting.\n`);
    process.exit(1);
  }
  process.stderr.write(
    `ChatKit Gateway failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
