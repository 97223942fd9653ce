import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import pino from 'pino';
import { activeTraceIds } from './tracing';

export type Logger = pino.Logger;

/**
 * Errors go under `err`, which pino serializes with their type, message, stack and cause; a
 * stray `error` key gets the same treatment rather than printing `{}`. While tracing is on, a
 * line written inside a span names its trace_id and span_id.
 */
export function createLogger(name: string, level: string = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = { name, level, serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err }, mixin: activeTraceIds };
  return destination ? pino(options, destination) : pino(options);
}

const pinoLevels: Record<LogLevel, pino.Level> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/**
 * A Temporal SDK logger writing into `log`, for `Runtime.install({ logger })`: the SDK's own
 * lines, the workflow and activity context loggers, and Core's lines when forwarded. The SDK
 * puts errors under `error`; they go under `err` here. Levels are filtered by `log`'s level.
 */
export function temporalLogger(log: Logger): TemporalLogger {
  const sdk = log.child({ component: 'temporal' });
  const write = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const { error, ...rest } = meta ?? {};
    sdk[pinoLevels[level]](error === undefined ? rest : { ...rest, err: error }, message);
  };
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}
