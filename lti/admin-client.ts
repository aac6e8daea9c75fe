// The CLI's side of the admin API: the same PlatformAdmin interface as the registry, over HTTP.
import type { PlatformRegistration } from './provider.ts';
import type { PlatformAdmin, RegisteredPlatform } from './platforms.ts';

const TIMEOUT_MS = 30_000;

export class AdminApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'AdminApiError';
    this.status = status;
  }
}

export class AdminClient implements PlatformAdmin {
  readonly #base: string;
  readonly #token: string;

  constructor(toolUrl: string, token: string) {
    this.#base = `${toolUrl.replace(/\/+$/, '')}/admin/api`;
    this.#token = token;
  }

  async list(): Promise<RegisteredPlatform[]> {
    return (await this.#call<{ platforms: RegisteredPlatform[] }>('GET', '/platforms')).platforms;
  }

  async add(platform: PlatformRegistration, deploymentIds: string[]): Promise<RegisteredPlatform> {
    return (await this.#call<{ platform: RegisteredPlatform }>('POST', '/platforms', { platform, deploymentIds })).platform;
  }

  async activate(issuer: string, clientId: string, deploymentIds: string[] = []): Promise<RegisteredPlatform> {
    return (await this.#call<{ platform: RegisteredPlatform }>('POST', '/platforms/activate', { issuer, clientId, deploymentIds })).platform;
  }

  async remove(issuer: string, clientId: string): Promise<boolean> {
    const query = new URLSearchParams({ issuer, clientId });
    return (await this.#call<{ removed: boolean }>('DELETE', `/platforms?${query}`)).removed;
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new AdminApiError(0, `the tool at ${this.#base} did not answer: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const message = (parsed as { error?: string } | undefined)?.error ?? `HTTP ${response.status}`;
      throw new AdminApiError(response.status, `the tool refused (${response.status}): ${message}`);
    }
    if (parsed === undefined) throw new AdminApiError(response.status, `the tool answered something that is not JSON (HTTP ${response.status})`);
    return parsed as T;
  }
}
