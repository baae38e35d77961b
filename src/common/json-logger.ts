// JSON-lines logger for Nest and for request logs. Callers pass structured
// fields; nothing here formats request headers or bodies, so credentials
// cannot reach the log by accident.
import type { LoggerService } from '@nestjs/common';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
/** Nest's start-up chatter (one line per module and route) is only interesting when debugging. */
const NEST_BOOT_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

export class JsonLogger implements LoggerService {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {}

  emit(level: Exclude<LogLevel, 'silent'>, msg: string, fields: Record<string, unknown> = {}): void {
    if (RANK[level] < RANK[this.level]) return;
    this.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
  }

  log(message: unknown, context?: string): void {
    const level = context && NEST_BOOT_CONTEXTS.has(context) ? 'debug' : 'info';
    this.emit(level, String(message), context ? { context } : {});
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.emit('error', String(message), { ...(context ? { context } : {}), ...(trace ? { trace } : {}) });
  }
  warn(message: unknown, context?: string): void {
    this.emit('warn', String(message), context ? { context } : {});
  }
  debug(message: unknown, context?: string): void {
    this.emit('debug', String(message), context ? { context } : {});
  }
  verbose(message: unknown, context?: string): void {
    this.debug(message, context);
  }
}
