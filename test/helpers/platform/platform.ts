// An LTI 1.3 platform (Moodle- or Canvas-shaped) on 127.0.0.1, for the tool's tests: it launches the
// tool through a browser-like user agent, serves its JWKS, token endpoint, NRPS, AGS, deep linking
// return and dynamic registration, and has hooks to make each of them misbehave.
import express, { type Express } from 'express';
import { Ags } from './ags.ts';
import { CoursePages } from './course-page.ts';
import { DeepLinking } from './deep-linking.ts';
import { errorHandler, HttpError, listen, type Listener } from './http.ts';
import { PlatformKeys } from './keys.ts';
import { launch, postLaunch, prepareLaunch, type FlowOptions, type LaunchResult, type PostOverrides, type PreparedLaunch } from './launch.ts';
import { defaultsFor, layoutFor, newClientId, newDeploymentId } from './layout.ts';
import { Nrps } from './nrps.ts';
import { authRouter, Launches } from './oidc.ts';
import { DynamicRegistration } from './registration.ts';
import { Site } from './site.ts';
import { AccessTokens, tokenRouter } from './token.ts';
import { UserAgent } from './user-agent.ts';
import type {
  AgsMode, AuthRequestRecord, Claims, DeepLinkResponseRecord, DynamicRegistrationRecord, HttpResponse, LaunchOptions, LineItem,
  Member, NewLineItem, NrpsMode, PlatformOptions, PlatformRegistration, Result, Score, SetMembersOptions, SigningOptions,
  TokenRequestRecord, ToolConfig,
} from './types.ts';

export class PlatformClosedError extends Error {
  constructor() {
    super('the platform simulator is closed');
    this.name = 'PlatformClosedError';
  }
}

export class Platform {
  readonly #site: Site;
  readonly #listener: Listener;
  readonly #launches: Launches;
  readonly #tokens = new AccessTokens();
  readonly #nrps = new Nrps();
  readonly #ags: Ags;
  readonly #deepLinking = new DeepLinking();
  readonly #registration = new DynamicRegistration();
  readonly #coursePages: CoursePages;
  readonly #authLog: AuthRequestRecord[] = [];
  readonly #tokenLog: TokenRequestRecord[] = [];
  #jwksDown = false;
  #jwksFetches = 0;
  #closed = false;

  private constructor(site: Site, listener: Listener) {
    this.#site = site;
    this.#listener = listener;
    this.#launches = new Launches(site);
    this.#ags = new Ags(site);
    this.#coursePages = new CoursePages(site, this.#launches);
  }

  static async start(options: PlatformOptions): Promise<Platform> {
    const { flavor } = options;
    if (flavor !== 'moodle' && flavor !== 'canvas') throw new TypeError(`flavor must be 'moodle' or 'canvas', got ${String(flavor)}`);
    const keys = await PlatformKeys.create();
    const app = express();
    const listener = await listen(app, options.hostname);
    const site = new Site({
      flavor,
      layout: layoutFor(flavor),
      baseUrl: listener.baseUrl,
      issuer: typeof options.issuer === 'function' ? options.issuer(listener.baseUrl) : options.issuer ?? (flavor === 'moodle' ? listener.baseUrl : 'https://canvas.instructure.com'),
      name: options.name ?? defaultsFor(flavor).name,
      clientId: options.clientId ?? newClientId(flavor),
      deploymentId: options.deploymentId ?? newDeploymentId(flavor),
      keys,
    });
    const platform = new Platform(site, listener);
    platform.#mount(app);
    return platform;
  }

  #mount(app: Express): void {
    const site = this.#site;
    app.disable('x-powered-by');
    app.set('etag', false);
    app.use(express.urlencoded({ extended: false, limit: '5mb' }));
    app.use(express.json({ type: ['application/json', 'application/*+json'], limit: '5mb' }));
    app.get(site.layout.jwks, (_req, res) => {
      this.#jwksFetches++;
      if (this.#jwksDown) throw new HttpError(503, 'temporarily_unavailable', 'the key set is unavailable');
      res.set('Cache-Control', 'max-age=300').json(site.keys.jwks());
    });
    app.use(authRouter({
      site,
      launches: this.#launches,
      log: this.#authLog,
      lineItemFor: (course, resourceLinkId) => this.#ags.lineItemFor(course, resourceLinkId),
    }));
    app.use(tokenRouter(site, this.#tokens, this.#tokenLog));
    app.use(this.#nrps.router(site, this.#tokens));
    app.use(this.#ags.router(this.#tokens));
    app.use(this.#deepLinking.router(site, this.#launches));
    app.use(this.#registration.router(site, ({ clientId, deploymentId, tool }) => {
      site.clientId = clientId;
      site.deploymentIds = [deploymentId];
      site.useTool(tool);
    }));
    app.use(this.#coursePages.router());
    app.use((req, _res) => {
      throw new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`);
    });
    app.use(errorHandler);
  }

  #open(): Site {
    if (this.#closed) throw new PlatformClosedError();
    return this.#site;
  }

  // Identity and endpoints.
  get flavor() { return this.#site.flavor; }
  get name() { return this.#site.name; }
  get baseUrl() { return this.#site.baseUrl; }
  get issuer() { return this.#site.issuer; }
  get clientId() { return this.#site.clientId; }
  get deploymentId() { return this.#site.deploymentId; }
  get deploymentIds(): string[] { return [...this.#site.deploymentIds]; }
  get authUrl() { return this.#site.url(this.#site.layout.auth); }
  get tokenUrl() { return this.#site.url(this.#site.layout.token); }
  get jwksUrl() { return this.#site.url(this.#site.layout.jwks); }
  get openIdConfigurationUrl() { return this.#site.url(this.#site.layout.openidConfiguration); }
  get registrationEndpoint() { return this.#site.url(this.#site.layout.registration); }
  /** The tool this platform trusts (from useTool or dynamic registration). */
  get tool(): ToolConfig | undefined { return this.#site.tool; }

  registration(): PlatformRegistration {
    return {
      name: this.name,
      issuer: this.issuer,
      clientId: this.clientId,
      deploymentIds: this.deploymentIds,
      authUrl: this.authUrl,
      tokenUrl: this.tokenUrl,
      jwksUrl: this.jwksUrl,
    };
  }

  useTool(config: ToolConfig): void {
    this.#open().useTool(config);
  }

  /** Adds a deployment of the same tool (e.g. another course or sub-account) and returns its id. */
  addDeployment(id: string = newDeploymentId(this.flavor)): string {
    this.#open().deploymentIds.push(id);
    return id;
  }

  // Launches.
  launch(opts: LaunchOptions = {}, flow: FlowOptions = {}): Promise<LaunchResult> {
    return launch({ site: this.#open(), launches: this.#launches }, opts, flow);
  }

  prepareLaunch(opts: LaunchOptions = {}, flow: FlowOptions = {}): Promise<PreparedLaunch> {
    return prepareLaunch({ site: this.#open(), launches: this.#launches }, opts, flow);
  }

  postLaunch(prepared: PreparedLaunch, overrides: PostOverrides = {}): Promise<Extract<LaunchResult, { stage: 'launched' }>> {
    return postLaunch({ site: this.#open(), launches: this.#launches }, prepared, overrides);
  }

  /** Every OIDC authentication request the auth endpoint received, with its verdict. */
  authRequests(): AuthRequestRecord[] {
    return structuredClone(this.#authLog);
  }

  // Keys.
  setJwksDown(down: boolean): void {
    this.#jwksDown = down;
  }

  /** How many times the JWKS was requested. */
  get jwksFetches(): number {
    return this.#jwksFetches;
  }

  /** Signs with a new key; the old one stays in the JWKS unless keepOld is false. Returns the new kid. */
  rotateKey(keepOld = true): Promise<string> {
    return this.#open().keys.rotate(keepOld);
  }

  /** Signs arbitrary claims as this platform (or as `signing` says), e.g. to hand-craft an id_token. */
  sign(claims: Claims, signing?: SigningOptions): Promise<string> {
    return this.#open().keys.sign(claims, signing);
  }

  // Services.
  tokenRequests(): TokenRequestRecord[] {
    return structuredClone(this.#tokenLog);
  }

  /** Invalidates every access token issued so far (services answer 401 until the tool gets a new one). */
  expireAccessTokens(): void {
    this.#tokens.expireAll();
  }

  setMembers(contextId: string, members: readonly Member[], options?: SetMembersOptions): void {
    this.#open().courses.setMembers(contextId, members, options);
  }

  nrpsMode(mode: NrpsMode): void {
    this.#nrps.mode = mode;
  }

  /** Membership requests served so far. */
  get nrpsRequests(): number {
    return this.#nrps.requests;
  }

  /** Creates a line item as the LMS would (e.g. a 'Course fee' column the shop writes to). */
  createLineItem(contextId: string, item: NewLineItem): LineItem {
    return this.#ags.create(this.#open().courses.ensure({ id: contextId }), item);
  }

  lineItems(contextId: string): LineItem[] {
    const course = this.#site.courses.byId(contextId);
    return course ? this.#ags.lineItems(course) : [];
  }

  /** Writes a result directly (as a grader or the shop would); `score` undefined clears it. */
  setResult(lineItemId: string, userId: string, score: number | undefined, max?: number): void {
    this.#ags.setResult(lineItemId, userId, score, max);
  }

  scores(lineItemId: string): Score[] {
    return this.#ags.scores(lineItemId);
  }

  results(lineItemId: string): Result[] {
    return this.#ags.results(lineItemId);
  }

  agsMode(mode: AgsMode): void {
    this.#ags.mode = mode;
  }

  deepLinkResponses(): DeepLinkResponseRecord[] {
    return structuredClone(this.#deepLinking.responses);
  }

  // Dynamic registration.
  /**
   * Opens the tool's registration URL as the admin's browser would, with `openid_configuration` and
   * (unless withToken is false) a one-time `registration_token`. On success the platform adopts the
   * registered client (clientId, deploymentId, tool URLs).
   */
  async startDynamicRegistration(toolRegisterUrl: string, options: { withToken?: boolean; userAgent?: UserAgent } = {}): Promise<{
    response: HttpResponse;
    registration: Record<string, unknown> | undefined;
    record: DynamicRegistrationRecord | undefined;
  }> {
    this.#open();
    const url = new URL(toolRegisterUrl);
    url.searchParams.set('openid_configuration', this.openIdConfigurationUrl);
    if (options.withToken !== false) url.searchParams.set('registration_token', this.#registration.issueToken());
    const before = this.#registration.records.length;
    const response = await (options.userAgent ?? new UserAgent()).navigate(url.toString());
    const record = this.#registration.records.slice(before).at(-1);
    return { response, registration: record && structuredClone(record.request), record: record && structuredClone(record) };
  }

  dynamicRegistrations(): DynamicRegistrationRecord[] {
    return structuredClone(this.#registration.records);
  }

  // Browser tests.
  /**
   * A course page that frames the tool's login and answers LTI postMessage storage requests (and
   * lti.capabilities, unless `answersCapabilities` is false, as an older platform).
   */
  coursePageUrl(opts: LaunchOptions & { answersCapabilities?: boolean } = {}): string {
    this.#open();
    return this.#coursePages.create(opts);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#listener.close();
  }
}
