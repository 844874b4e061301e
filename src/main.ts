/** Bootstrap only: validate the environment, build the app, listen. */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from 'src/app.module';
import { configureApp } from 'src/app.setup';
import { validateAllConfig } from 'src/config/config.registry';
import { ConfigValidationError } from 'src/config/env.schema';

async function bootstrap(): Promise<void> {
  try {
    validateAllConfig();
  } catch (err) {
    if (err instanceof ConfigValidationError) {
      process.stderr.write(`${err.message}\nSee docs/configuration.md for every setting.\n`);
      process.exit(1);
    }
    throw err;
  }
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bufferLogs: true });
  const config = configureApp(app);
  await app.listen(config.port, config.host);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  process.stdout.write(
    `ChatKit Gateway listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port} (API docs at /docs)\n`,
  );
}

void bootstrap();
