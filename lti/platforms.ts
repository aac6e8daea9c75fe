// Registered platforms (LMS installations): ltijs keeps the platform and its key pair; we keep the
// deployment ids each platform may launch from, which ltijs does not check.
import type { LtiStore } from './store.ts';
import type { PlatformRegistration } from './provider.ts';

const DEPLOYMENTS = 'lc_deployment';

export interface RegisteredPlatform extends PlatformRegistration {
  deploymentIds: string[];
  active: boolean;
}

export interface PlatformRegistrar {
  registerPlatform(platform: Record<string, unknown>): Promise<unknown>;
  deletePlatform(url: string, clientId: string): Promise<boolean>;
}

export class PlatformRegistry {
  readonly #provider: PlatformRegistrar;
  readonly #store: LtiStore;

  constructor(provider: PlatformRegistrar, store: LtiStore) {
    this.#provider = provider;
    this.#store = store;
  }

  async add(platform: PlatformRegistration, deploymentIds: string[]): Promise<RegisteredPlatform> {
    if (deploymentIds.length === 0) throw new TypeError('at least one deployment id is required');
    await this.#provider.registerPlatform({
      url: platform.issuer,
      name: platform.name,
      clientId: platform.clientId,
      authenticationEndpoint: platform.authUrl,
      accesstokenEndpoint: platform.tokenUrl,
      authConfig: { method: 'JWK_SET', key: platform.jwksUrl },
    });
    for (const deploymentId of deploymentIds) {
      const key = { issuer: platform.issuer, clientId: platform.clientId, deploymentId };
      await this.#store.Replace(false, DEPLOYMENTS, key, key);
    }
    const found = await this.get(platform.issuer, platform.clientId);
    if (found === undefined) throw new Error('the platform was not stored');
    return found;
  }

  async list(): Promise<RegisteredPlatform[]> {
    const platforms = (await this.#store.Get(false, 'platform')) || [];
    const deployments = (await this.#store.Get(false, DEPLOYMENTS)) || [];
    const statuses = (await this.#store.Get(false, 'platformStatus')) || [];
    return platforms.map((p) => {
      const issuer = String(p.platformUrl);
      const clientId = String(p.clientId);
      const status = statuses.find((s) => s.id === p.kid);
      return {
        name: String(p.platformName),
        issuer,
        clientId,
        authUrl: String(p.authEndpoint),
        tokenUrl: String(p.accesstokenEndpoint),
        jwksUrl: String((p.authConfig as { key?: string } | undefined)?.key ?? ''),
        deploymentIds: deployments.filter((d) => d.issuer === issuer && d.clientId === clientId).map((d) => String(d.deploymentId)),
        active: status === undefined ? true : status.active === true,
      };
    });
  }

  async get(issuer: string, clientId: string): Promise<RegisteredPlatform | undefined> {
    return (await this.list()).find((p) => p.issuer === issuer && p.clientId === clientId);
  }

  async remove(issuer: string, clientId: string): Promise<boolean> {
    if ((await this.get(issuer, clientId)) === undefined) return false;
    await this.#provider.deletePlatform(issuer, clientId);
    await this.#store.Delete(DEPLOYMENTS, { issuer, clientId });
    return true;
  }

  async hasDeployment(issuer: string, clientId: string, deploymentId: string): Promise<boolean> {
    return (await this.#store.Get(false, DEPLOYMENTS, { issuer, clientId, deploymentId })) !== false;
  }
}
