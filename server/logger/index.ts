import { pino, type Logger } from 'pino';
import type { LogLevel } from '../../config/index.ts';

export type { Logger } from 'pino';

/**
 * The root logger: JSON lines on stdout. Modules take a child (`logger.child({ module: 'db' })`),
 * rooms and participants a child of that. Known secret fields are censored wherever they appear.
 */
export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: ['password', '*.password', 'token', '*.token', 'id_token', '*.id_token', 'secret', '*.secret', 'headers.authorization', 'headers.cookie'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ sync: true }),
  );
}

/** A warning logged at most once every `everyMs`: for failures that repeat for as long as a service is down (Redis). */
export function throttledWarn(logger: Logger, everyMs = 10_000): (fields: object, message: string) => void {
  let last = 0;
  return (fields, message) => {
    if (Date.now() - last < everyMs) return;
    last = Date.now();
    logger.warn(fields, message);
  };
}
