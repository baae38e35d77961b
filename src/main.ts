import { AppLogger, createPino } from './common/logging.js';
import { ConfigError, loadConfig, type ResolvedConfig } from './config/load-config.js';
import { tracingFromEnv, type TracingSettings } from './config/tracing.js';

async function main(): Promise<void> {
  let config: ResolvedConfig;
  let tracingSettings: TracingSettings | undefined;
  try {
    config = loadConfig();
    tracingSettings = tracingFromEnv();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`registrar: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  // Tracing starts before bootstrap.js loads Fastify, pg and node:http(s), which it instruments;
  // without OTEL_* variables asking for it, the SDK is never even loaded (README "Tracing").
  const tracing =
    tracingSettings && (await import('./common/tracing.js')).startTracing(tracingSettings, createPino(config.values['log.level']));
  // Loaded after the configuration so that a bad value fails fast, before Nest starts.
  const { createApp, listen } = await import('./bootstrap.js');
  const app = await createApp({ config });
  // Fastify closes after the last in-flight request; the spans still buffered are exported then.
  if (tracing) app.getHttpAdapter().getInstance().addHook('onClose', () => tracing.shutdown());
  await listen(app, config);
  const adminPort = config.values['serve.admin.port'];
  app.get(AppLogger).info(
    {
      address: `${config.values['serve.public.host']}:${config.values['serve.public.port']}`,
      ...(adminPort !== undefined && { admin_address: `${config.values['serve.admin.host']}:${adminPort}` }),
      issuer: config.values['urls.self.issuer'],
      database: config.values.dsn ? 'postgresql' : `embedded (${config.values.data_dir})`,
    },
    'registrar listening',
  );
  if (config.generatedAdminKey) {
    // Development only (production refuses to start without admin.api_keys): the key is shown so that
    // the quick start works at once, as a log line like every other line the service writes.
    app.get(AppLogger).info(
      { admin_api_key: config.generatedAdminKey, kept_in: `${config.values.data_dir}/secrets.json` },
      'development admin API key (generated; set ADMIN_API_KEYS to use your own)',
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`registrar: failed to start: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
