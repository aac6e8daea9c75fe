// `npm run platform -- add|list|activate|remove`: registers the LMSs (platforms) allowed to launch
// Live Classroom. Works whether or not the tool runs (see cli-connect.ts). Exit codes: 0 done,
// 1 failed (not found, unreachable, bad settings), 2 usage error.
import { parseArgs } from 'node:util';
import { ConfigError, loadSettings } from '../config/index.ts';
import { createLogger } from '../server/logger/index.ts';
import type { PlatformAdmin, RegisteredPlatform } from './platforms.ts';
import { PRESET_NAMES, PresetError, presetValues, siteUrl, type PresetName } from './presets.ts';
import type { PlatformRegistration } from './provider.ts';

const HELP = `Usage: npm run platform -- <command> [flags]

Registers the LMSs (platforms) that may launch Live Classroom. Works whether or not the tool runs.

Commands:
  add       register an LMS, or update one and add deployment ids (it is active at once)
  list      show the registered LMSs, one a line (--json: as JSON)
  activate  let an LMS that registered itself (dynamic registration) launch
  remove    forget an LMS

add:
  --preset NAME          fill in the LMS's issuer and endpoints: ${PRESET_NAMES.join(', ')}
  --url URL              the LMS site: required with --preset moodle; with a canvas preset, a
                         self-hosted Canvas (endpoints on that site)
  --client-id ID         (required) the client id the LMS shows for the tool
  --deployment-id ID     (required, repeatable) the deployment id(s) the LMS shows
  --name NAME            how the LMS is shown (default: from the preset or the issuer)
  --issuer URL           \\
  --auth-url URL          | required without --preset; override the preset's values
  --token-url URL         |
  --jwks-url URL         /
activate:
  --issuer URL --client-id ID [--deployment-id ID ...]
                         an LMS that sent no deployment id (Canvas) needs --deployment-id
remove:
  --issuer URL --client-id ID

Every command:
  --json                 print the result as JSON
  --wait SECONDS         how long to wait for a tool that is starting (default 30)
  -h, --help             this text

Examples:
  npm run platform -- add --preset moodle --url https://moodle.example.edu --client-id AbC123 --deployment-id 1
  npm run platform -- add --preset canvas --client-id 10000000000042 --deployment-id 7:5f3c...
  npm run platform -- activate --issuer https://canvas.instructure.com --client-id 10000000000042 --deployment-id 7:5f3c...
`;

const OPTIONS = {
  preset: { type: 'string' },
  url: { type: 'string' },
  name: { type: 'string' },
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'deployment-id': { type: 'string', multiple: true },
  'auth-url': { type: 'string' },
  'token-url': { type: 'string' },
  'jwks-url': { type: 'string' },
  json: { type: 'boolean' },
  wait: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
type Flag = keyof typeof OPTIONS;

const COMMON: Flag[] = ['json', 'wait', 'help'];
const FLAGS_OF: Record<string, Flag[]> = {
  add: ['preset', 'url', 'name', 'issuer', 'client-id', 'deployment-id', 'auth-url', 'token-url', 'jwks-url'],
  list: [],
  activate: ['issuer', 'client-id', 'deployment-id'],
  remove: ['issuer', 'client-id'],
};

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Command =
  | { name: 'help' }
  | { name: 'add'; platform: PlatformRegistration; deploymentIds: string[] }
  | { name: 'list' }
  | { name: 'activate'; issuer: string; clientId: string; deploymentIds: string[] }
  | { name: 'remove'; issuer: string; clientId: string };

export interface Parsed {
  command: Command;
  json: boolean;
  waitMs: number;
}

function httpUrlFlag(flag: string, value: string): string {
  const url = siteUrl(value);
  if (url === undefined || value.trim() === '') throw new UsageError(`--${flag} ${JSON.stringify(value)} is not an http:// or https:// URL without query`);
  return value.trim();
}

function text(flag: string, value: string | undefined, why: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`--${flag} is required (${why})`);
  return value.trim();
}

/** Reads the command line; throws UsageError naming the flag that is missing or wrong. */
export function parseCommandLine(argv: string[]): Parsed {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [name, ...extra] = positionals;
  if (values.help || name === undefined || name === 'help') return { command: { name: 'help' }, json: false, waitMs: 0 };
  const allowed = FLAGS_OF[name];
  if (allowed === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)}: expected add, list, activate or remove`);
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])} (values go after a --flag)`);
  for (const flag of Object.keys(values) as Flag[]) {
    if (!allowed.includes(flag) && !COMMON.includes(flag)) throw new UsageError(`${name} does not take --${flag}`);
  }
  let waitMs = 30_000;
  if (values.wait !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(values.wait.trim())) throw new UsageError(`--wait ${JSON.stringify(values.wait)} is not a number of seconds`);
    waitMs = Math.round(Number(values.wait) * 1000);
  }
  const json = values.json === true;
  const deploymentIds = [...new Set((values['deployment-id'] ?? []).map((id) => id.trim()))];
  if (deploymentIds.includes('')) throw new UsageError('--deployment-id must not be empty');
  const issuerOf = () => httpUrlFlag('issuer', text('issuer', values.issuer, "the LMS's issuer URL"));
  const clientIdOf = () => text('client-id', values['client-id'], 'the client id the LMS shows for the tool');

  switch (name) {
    case 'list':
      return { command: { name }, json, waitMs };
    case 'remove':
      return { command: { name, issuer: issuerOf(), clientId: clientIdOf() }, json, waitMs };
    case 'activate':
      return { command: { name, issuer: issuerOf(), clientId: clientIdOf(), deploymentIds }, json, waitMs };
    case 'add': {
      let preset: Partial<PlatformRegistration> = {};
      if (values.url !== undefined && values.preset === undefined) throw new UsageError('--url goes with --preset (e.g. --preset moodle --url https://moodle.example.edu)');
      if (values.preset !== undefined) {
        if (!(PRESET_NAMES as readonly string[]).includes(values.preset)) {
          throw new UsageError(`--preset ${JSON.stringify(values.preset)} is unknown: expected one of ${PRESET_NAMES.join(', ')}`);
        }
        const url = values.url === undefined ? undefined : siteUrl(values.url);
        if (values.url !== undefined && url === undefined) throw new UsageError(`--url ${JSON.stringify(values.url)} is not an http:// or https:// URL without query`);
        try {
          preset = presetValues(values.preset as PresetName, url);
        } catch (error) {
          if (error instanceof PresetError) throw new UsageError(error.message);
          throw error;
        }
      }
      const why = 'or use --preset';
      const urlFlag = (flag: 'issuer' | 'auth-url' | 'token-url' | 'jwks-url', fromPreset: string | undefined) => {
        const given = values[flag];
        return given !== undefined ? httpUrlFlag(flag, given) : text(flag, fromPreset, why);
      };
      const clientId = clientIdOf();
      if (deploymentIds.length === 0) throw new UsageError('--deployment-id is required (at least one: the deployment id the LMS shows for the tool)');
      const issuer = urlFlag('issuer', preset.issuer);
      const platform: PlatformRegistration = {
        name: values.name?.trim() || preset.name || new URL(issuer).host,
        issuer,
        clientId,
        authUrl: urlFlag('auth-url', preset.authUrl),
        tokenUrl: urlFlag('token-url', preset.tokenUrl),
        jwksUrl: urlFlag('jwks-url', preset.jwksUrl),
      };
      return { command: { name, platform, deploymentIds }, json, waitMs };
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(name)}`);
  }
}

function status(platform: RegisteredPlatform): string {
  if (platform.deploymentIds.length === 0) return platform.active ? 'active, but no deployment id yet (activate --deployment-id ID)' : 'awaiting activation (needs --deployment-id)';
  return platform.active ? 'active' : 'awaiting activation';
}

/** One line a platform: name, issuer, client id, deployments, state. */
export function describe(platform: RegisteredPlatform): string {
  const deployments = platform.deploymentIds.length === 0 ? '(none)' : platform.deploymentIds.join(',');
  return [platform.name, platform.issuer, `client ${platform.clientId}`, `deployments ${deployments}`, status(platform)].join('\t');
}

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

async function execute(command: Exclude<Command, { name: 'help' }>, admin: PlatformAdmin, json: boolean, io: Io): Promise<number> {
  const print = (verb: string, platform: RegisteredPlatform) => io.out(json ? JSON.stringify(platform, null, 2) : `${verb}\t${describe(platform)}`);
  switch (command.name) {
    case 'list': {
      const platforms = await admin.list();
      if (json) io.out(JSON.stringify(platforms, null, 2));
      else if (platforms.length === 0) io.err('platform: no platform is registered yet (npm run platform -- add --help)');
      else for (const platform of platforms) io.out(describe(platform));
      return 0;
    }
    case 'add': {
      const { platform, deploymentIds } = command;
      const existed = (await admin.list()).some((p) => p.issuer === platform.issuer && p.clientId === platform.clientId);
      print(existed ? 'updated' : 'added', await admin.add(platform, deploymentIds));
      return 0;
    }
    case 'activate':
      print('activated', await admin.activate(command.issuer, command.clientId, command.deploymentIds));
      return 0;
    case 'remove': {
      const removed = await admin.remove(command.issuer, command.clientId);
      if (json) io.out(JSON.stringify({ removed }));
      if (!removed) {
        io.err(`platform: no platform is registered with issuer ${command.issuer} and client id ${command.clientId}`);
        return 1;
      }
      if (!json) io.out(`removed\t${command.issuer}\tclient ${command.clientId}`);
      return 0;
    }
    default: {
      const unknown: never = command;
      throw new TypeError(`unhandled command ${JSON.stringify(unknown)}`);
    }
  }
}

/** Failures a person can act on: printed as one line, exit code 1 (anything else is a bug: stack trace). */
const EXPECTED_ERRORS = [
  'ConnectError',
  'AdminApiError',
  'PlatformNotFoundError',
  'DeploymentIdRequiredError',
  'DatabaseUnavailableError',
  'LtiKeyMismatchError',
  'DataDirInUseError',
];

/** Runs one command line; returns the exit code. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`platform: ${error.message}`);
    io.err("platform: see 'npm run platform -- --help'");
    return 2;
  }
  const { command } = parsed;
  if (command.name === 'help') {
    io.out(HELP.trimEnd());
    return 0;
  }
  let settings;
  try {
    settings = loadSettings();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) io.err(`platform: ${problem}`);
    return 1;
  }
  const logger = createLogger('error', process.stderr);
  try {
    // Loaded only now, so --help and usage errors answer at once (the database and ltijs are heavy).
    const { openAdmin } = await import('./cli-connect.ts');
    const session = await openAdmin(settings, { waitMs: parsed.waitMs, say: (line) => io.err(`platform: ${line}`), logger });
    try {
      return await execute(command, session.admin, parsed.json, io);
    } finally {
      await session.close();
    }
  } catch (error) {
    if (error instanceof Error && EXPECTED_ERRORS.includes(error.name)) {
      io.err(`platform: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

if (import.meta.main) {
  const code = await runCli(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
  process.exitCode = code;
}
