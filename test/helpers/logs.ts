// A logger whose JSON lines the test can read, for checking what the tool logged (and at what level).
import { Writable } from 'node:stream';
import type { LogLevel } from '../../config/index.ts';
import { createLogger, type Logger } from '../../server/logger/index.ts';

/** pino's numeric levels. */
export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;

export interface CapturedLogs {
  logger: Logger;
  lines: Array<Record<string, unknown> & { level: number; msg?: string }>;
  /** Lines at `level` or above. */
  atLeast(level: number): Array<Record<string, unknown> & { level: number; msg?: string }>;
  /** Every line as one text, to search for a value. */
  text(): string;
}

export function captureLogs(level: LogLevel = 'debug'): CapturedLogs {
  const lines: CapturedLogs['lines'] = [];
  let buffered = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const part of parts) if (part.trim() !== '') lines.push(JSON.parse(part) as CapturedLogs['lines'][number]);
      done();
    },
  });
  return {
    logger: createLogger(level, sink),
    lines,
    atLeast: (min) => lines.filter((l) => l.level >= min),
    text: () => lines.map((l) => JSON.stringify(l)).join('\n'),
  };
}
