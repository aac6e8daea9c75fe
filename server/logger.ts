import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config/index.ts';

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
