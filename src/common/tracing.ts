// OpenTelemetry tracing (README "Tracing"). main.ts imports this module only
// when an OTEL_* variable asks for traces (src/config/tracing.ts), and starts it
// before bootstrap.js loads Fastify, pg and everything that uses node:http(s).
//
// No ESM loader hook (import-in-the-middle) is needed, and none is registered:
// the SDK's require() hook sees Fastify (CommonJS) require node:http(s), and
// TypeORM require pg; an ESM `import pg` escapes that hook, but pg's ESM entry
// re-exports the same CommonJS classes, whose prototypes are what gets patched.
// @fastify/otel attaches through Fastify's `fastify.initialization` diagnostics
// channel. Our own ESM code calls node:https through the module object
// (src/common/safe-fetch.ts) so that it sees the patched function too.
// test/e2e/tracing.spec.ts checks all of this on the compiled service.
import type { IncomingMessage } from 'node:http';
import { context, diag, DiagLogLevel, ROOT_CONTEXT, type DiagLogger } from '@opentelemetry/api';
import { NodeSDK, resources } from '@opentelemetry/sdk-node';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import type { Logger as Pino } from 'pino';
import type { TracingSettings } from '../config/tracing.js';
import { requestPath } from './http.js';

export interface Tracing {
  /** Exports the spans still buffered, then stops; once, at shutdown. */
  shutdown(): Promise<void>;
}

/** Probes and scrapes, every few seconds from every load balancer and Prometheus, would drown the traces that matter. */
const UNTRACED_PATHS = new Set(['/health/alive', '/health/ready', '/metrics']);

function untraced(url: string | undefined): boolean {
  return UNTRACED_PATHS.has(requestPath({ url: url ?? '/' }));
}

/**
 * The SDK's own warnings (an unreachable collector, say) as JSON log lines like every other,
 * outside any trace: an export runs in whichever request's context started its timer.
 */
function diagToLog(log: Pino): DiagLogger {
  const write = (level: 'error' | 'warn' | 'info' | 'debug') => (message: string, ...args: unknown[]) =>
    context.with(ROOT_CONTEXT, () =>
      log[level]({ context: 'opentelemetry', ...(args.length > 0 && { detail: args.map((a) => (a instanceof Error ? a.message : String(a))) }) }, message),
    );
  return { error: write('error'), warn: write('warn'), info: write('info'), debug: write('debug'), verbose: write('debug') };
}

/**
 * Starts the SDK as the OTEL_* variables configure it: exporter, endpoint,
 * protocol, sampler, resource attributes, batching. Traces only; the W3C
 * Trace Context and Baggage propagators unless OTEL_PROPAGATORS says otherwise.
 */
export function startTracing(settings: TracingSettings, log: Pino): Tracing {
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the SDK's environment detector) win over this default.
    resource: resources.defaultResource().merge(resources.resourceFromAttributes({ 'service.name': 'registrar' })),
    // Metrics are served to Prometheus (/metrics) and logs are the JSON log: neither is exported here.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req: IncomingMessage) => untraced(req.url),
        // As in the log, a request is its method and path: query strings (login and consent
        // challenges, authorization request parameters) stay out of the exported spans.
        startIncomingSpanHook: () => ({ 'url.query': undefined }),
      }),
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        ignorePaths: (route: { url: string }) => untraced(route.url),
        // Its request span records the whole URL as url.path; keep the path only (see above).
        requestHook: (span, request) => span.setAttribute('url.path', requestPath(request)),
        // One span for the request and one for its handler; not one per hook (CORS, body checks, the access log).
        instrumentHooks: false,
      }),
      new PgInstrumentation({
        // Statements are traced inside requests only; migrations, the janitor and the
        // LISTEN connection would otherwise each start a trace per statement.
        requireParentSpan: true,
        // Statement text only (with $n placeholders), never the values bound to it: they include token hashes.
        enhancedDatabaseReporting: false,
      }),
    ],
  });
  // The SDK writes its diagnostics to the console when OTEL_LOG_LEVEL is set; here they join the JSON log.
  diag.setLogger(diagToLog(log), {
    logLevel: DiagLogLevel[settings.sdkLogLevel],
    suppressOverrideMessage: true,
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
