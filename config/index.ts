// The only module that reads the process environment.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError, parseSettings, type Settings } from './settings.ts';

export { ConfigError, displayValue, LOG_LEVELS, parseSettings, redactUrl, SETTING_NAMES } from './settings.ts';
export type { LogLevel, SettingName, Settings } from './settings.ts';

/**
 * Reads the settings from the environment and, for variables the environment leaves unset,
 * from an optional `.env` file in `cwd`. Throws ConfigError naming each bad setting.
 */
export function loadSettings(
  cwd: string = process.cwd(),
  environment: Readonly<Record<string, string | undefined>> = process.env,
): Settings {
  const envFile = join(cwd, '.env');
  let fromFile: Record<string, string> = {};
  if (existsSync(envFile)) {
    try {
      fromFile = parseEnv(readFileSync(envFile, 'utf8')) as Record<string, string>;
    } catch (error) {
      throw new ConfigError([`The settings file ${envFile} cannot be read: ${(error as Error).message}.`]);
    }
  }
  return parseSettings({ ...fromFile, ...environment }, cwd);
}

