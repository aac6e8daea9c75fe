// Composition root: reads the settings, starts the service, and owns signals and the exit code.
import { ConfigError, loadSettings, type Settings } from '../config/index.ts';
import { DataDirInUseError } from './db/index.ts';
import { createLogger } from './logger/index.ts';
import { Service } from './service.ts';

/** Longest a shutdown may take before the process exits anyway. */
const SHUTDOWN_LIMIT_MS = 25_000;

function fail(message: string): never {
  process.stderr.write(`live-classroom: ${message}\n`);
  process.exit(1);
}

let settings: Settings;
try {
  settings = loadSettings();
} catch (error) {
  if (error instanceof ConfigError) fail(error.problems.join('\nlive-classroom: '));
  throw error;
}

const logger = createLogger(settings.logLevel);
let service: Service | undefined;
let exiting = false;

async function shutdown(reason: string, code: number): Promise<void> {
  if (exiting) {
    logger.warn(`${reason} again: exiting now`);
    process.exit(1);
  }
  exiting = true;
  logger.info(`${reason}: shutting down`);
  const limit = setTimeout(() => {
    logger.error(`shutdown took longer than ${SHUTDOWN_LIMIT_MS / 1000} s: exiting`);
    process.exit(1);
  }, SHUTDOWN_LIMIT_MS);
  limit.unref();
  try {
    await service?.stop();
  } catch (error) {
    logger.error({ err: error }, 'shutdown failed');
    code = 1;
  }
  process.exit(code);
}

process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
process.on('SIGINT', () => void shutdown('SIGINT', 0));
// What stops the process (SECURITY.md, "What stops the tool"): a signal; settings, a DATA_DIR lock
// or a database that cannot be prepared at start-up; and an exception thrown outside any request,
// socket event or timer's own handling, after which the process's state is unknown: it drains (the
// recordings close playable, browsers reconnect to another node or to this one restarted) and exits 1
// for the supervisor to restart it. A rejected promise nobody awaited is not one of them: the work it
// belonged to (one request, one socket event) is over, so it is logged and counted and everyone else
// is served on. Requests and socket events catch their own failures where they arise.
process.on('uncaughtException', (error) => {
  logger.fatal({ err: error }, 'uncaught exception');
  service?.metrics.unhandled('exception');
  void shutdown('uncaught exception', 1);
});
process.on('unhandledRejection', (error) => {
  logger.error({ err: error }, 'unhandled rejection: logged, the tool serves on');
  service?.metrics.unhandled('rejection');
});

try {
  service = await Service.start(settings, logger, { onFatal: () => void shutdown('fatal error', 1) });
} catch (error) {
  if (error instanceof DataDirInUseError) fail(error.message);
  logger.fatal({ err: error }, 'start-up failed');
  fail(`start-up failed: ${(error as Error).message}`);
}
