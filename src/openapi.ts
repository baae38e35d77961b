// Builds the OpenAPI document without a database (Nest's preview mode), for the
// committed openapi.json and the test that keeps it in step with the code.
import { createApp, buildOpenApiDocument } from './bootstrap.js';
import { loadConfig } from './config/load-config.js';

export async function renderOpenApiDocument(): Promise<string> {
  const config = loadConfig({ SECRETS_SYSTEM: 'unused', ADMIN_API_KEYS: 'unused' });
  const app = await createApp({ config, preview: true });
  try {
    return JSON.stringify(buildOpenApiDocument(app), null, 2) + '\n';
  } finally {
    await app.close();
  }
}
