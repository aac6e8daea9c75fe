// Registered platforms (LMS installations): ltijs keeps the platform and its key pair, and whether it
// is active (collection 'platformStatus', checked by ltijs at login); we keep the deployment ids each
// platform may launch from, which ltijs does not check.
import type { LtiStore } from './store.ts';
import type { PlatformRegistration } from './provider.ts';

const DEPLOYMENTS = 'lc_deployment';
/** ltijs' own collection: `{ id: <platform kid>, active }`; no record means active. */
const STATUSES = 'platformStatus';

export interface RegisteredPlatform extends PlatformRegistration {
  deploymentIds: string[];
  /** Whether launches are accepted; platforms that registered themselves wait for `platform activate`. */
  active: boolean;
}

export interface PlatformRegistrar {
  registerPlatform(platform: Record<string, unknown>): Promise<unknown>;
  deletePlatform(url: string, clientId: string): Promise<boolean>;
}

/** What an administrator can do with platforms: the registry itself, or the running tool's admin API. */
export interface PlatformAdmin {
  add(platform: PlatformRegistration, deploymentIds: string[]): Promise<RegisteredPlatform>;
  list(): Promise<RegisteredPlatform[]>;
  remove(issuer: string, clientId: string): Promise<boolean>;
  activate(issuer: string, clientId: string, deploymentIds?: string[]): Promise<RegisteredPlatform>;
}

export class PlatformNotFoundError extends Error {
  readonly issuer: string;
  readonly clientId: string;
  constructor(issuer: string, clientId: string) {
    super(`No platform is registered with issuer ${issuer} and client id ${clientId}.`);
    this.name = 'PlatformNotFoundError';
    this.issuer = issuer;
    this.clientId = clientId;
  }
}

/** Activation of a platform that has no deployment id yet (Canvas does not send one when it registers). */
export class DeploymentIdRequiredError extends Error {
  constructor(platform: RegisteredPlatform) {
    super(
      `${platform.name} (${platform.issuer}, client id ${platform.clientId}) has no deployment id yet: ` +
        'give the one the LMS shows for the installed tool with --deployment-id (in Canvas: the tool\'s menu > Deployment Id).',
    );
    this.name = 'DeploymentIdRequiredError';
  }
}

export interface AddOptions {
  /** Default true: an administrator registered it. */
  active?: boolean;
  /** Default false: an administrator's registration names at least one deployment. */
  allowNoDeployment?: boolean;
}

export class PlatformRegistry implements PlatformAdmin {
  readonly #provider: PlatformRegistrar;
  readonly #store: LtiStore;

  constructor(provider: PlatformRegistrar, store: LtiStore) {
    this.#provider = provider;
    this.#store = store;
  }

  /**
   * Registers a platform, or updates the one with the same issuer and client id; deployment ids are
   * added to those already known.
   */
  async add(platform: PlatformRegistration, deploymentIds: string[], { active = true, allowNoDeployment = false }: AddOptions = {}): Promise<RegisteredPlatform> {
    if (deploymentIds.length === 0 && !allowNoDeployment) throw new TypeError('at least one deployment id is required');
    await this.#provider.registerPlatform({
      url: platform.issuer,
      name: platform.name,
      clientId: platform.clientId,
      authenticationEndpoint: platform.authUrl,
      accesstokenEndpoint: platform.tokenUrl,
      authConfig: { method: 'JWK_SET', key: platform.jwksUrl },
    });
    await this.#addDeployments(platform.issuer, platform.clientId, deploymentIds);
    await this.#setActive(platform.issuer, platform.clientId, active);
    return this.#require(platform.issuer, platform.clientId);
  }

  /** Lets a platform launch, adding deployment ids first; refuses one that would still have none. */
  async activate(issuer: string, clientId: string, deploymentIds: string[] = []): Promise<RegisteredPlatform> {
    const platform = await this.#require(issuer, clientId);
    if (platform.deploymentIds.length === 0 && deploymentIds.length === 0) throw new DeploymentIdRequiredError(platform);
    await this.#addDeployments(issuer, clientId, deploymentIds);
    await this.#setActive(issuer, clientId, true);
    return this.#require(issuer, clientId);
  }

  async list(): Promise<RegisteredPlatform[]> {
    const platforms = (await this.#store.Get(false, 'platform')) || [];
    const deployments = (await this.#store.Get(false, DEPLOYMENTS)) || [];
    const statuses = (await this.#store.Get(false, STATUSES)) || [];
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

  async #require(issuer: string, clientId: string): Promise<RegisteredPlatform> {
    const found = await this.get(issuer, clientId);
    if (found === undefined) throw new PlatformNotFoundError(issuer, clientId);
    return found;
  }

  async #addDeployments(issuer: string, clientId: string, deploymentIds: string[]): Promise<void> {
    for (const deploymentId of new Set(deploymentIds)) {
      const key = { issuer, clientId, deploymentId };
      await this.#store.Replace(false, DEPLOYMENTS, key, key);
    }
  }

  async #setActive(issuer: string, clientId: string, active: boolean): Promise<void> {
    const [platform] = (await this.#store.Get(false, 'platform', { platformUrl: issuer, clientId })) || [];
    if (platform === undefined) throw new PlatformNotFoundError(issuer, clientId);
    await this.#store.Replace(false, STATUSES, { id: platform.kid }, { id: platform.kid, active });
  }
}
