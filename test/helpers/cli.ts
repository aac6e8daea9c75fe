// Runs `npm run platform` (node lti/cli.ts) as a child process, with only the given settings.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcess;
  /** Resolves once stderr matches, or rejects after `timeoutMs` or when the CLI exits first. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  result: Promise<CliResult>;
}

export function startCli(args: string[], settings: Record<string, string>): RunningCli {
  const child = spawn(process.execPath, [`${ROOT}/lti/cli.ts`, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...settings },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const listener of listeners) listener();
  });
  const result = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return {
    child,
    result,
    waitForStderr(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pattern.test(stderr)) return;
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`stderr did not match ${pattern} within ${timeoutMs} ms: ${stderr}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        void result.then(() => {
          if (!listeners.has(check)) return;
          done();
          reject(new Error(`the CLI exited before stderr matched ${pattern}: ${stderr}`));
        });
        listeners.add(check);
        check();
      });
    },
  };
}

export function runCli(args: string[], settings: Record<string, string>): Promise<CliResult> {
  return startCli(args, settings).result;
}
