// Public types of the LTI 1.3 platform simulator (the LMS side, Moodle- or Canvas-shaped).

export type Flavor = 'moodle' | 'canvas';

/** A JWT claims set as the simulator builds or receives it. */
export type Claims = Record<string, unknown>;

export interface PlatformOptions {
  flavor: Flavor;
  /** Site name (tool_platform.name). */
  name?: string;
  /**
   * Overrides the issuer (moodle: its base URL; canvas: 'https://canvas.instructure.com'); a function
   * gets the base URL, e.g. `(base) => base` for a self-hosted Canvas whose issuer is its own URL.
   */
  issuer?: string | ((baseUrl: string) => string);
  clientId?: string;
  deploymentId?: string;
  /**
   * The host name in the platform's URLs (it always listens on 127.0.0.1). 'localhost' puts it on
   * another site than a tool on 127.0.0.1, so a browser treats the framed tool as third-party.
   */
  hostname?: 'localhost' | '127.0.0.1';
}

/** What a tool stores to trust this platform. */
export interface PlatformRegistration {
  name: string;
  issuer: string;
  clientId: string;
  deploymentIds: string[];
  authUrl: string;
  tokenUrl: string;
  jwksUrl: string;
}

/** What the tool registered in the platform. */
export interface ToolConfig {
  loginUrl: string;
  launchUrl: string;
  jwksUrl: string;
  deepLinkUrl?: string;
  /** Allowed redirect_uri values; defaults to launchUrl and deepLinkUrl. */
  redirectUris?: string[];
  /** Scopes the tool may be granted; defaults to every scope the platform supports. */
  scopes?: string[];
}

export interface LaunchUser {
  id: string;
  name?: string;
  givenName?: string;
  familyName?: string;
  email?: string;
  locale?: string;
  /** Moodle's ext.user_username; defaults to the part of the email before '@'. */
  username?: string;
}

export interface LaunchContext {
  id: string;
  title?: string;
  label?: string;
}

export interface LaunchResourceLink {
  id: string;
  title?: string;
  description?: string;
}

export type MessageType = 'LtiResourceLinkRequest' | 'LtiDeepLinkingRequest';

/** Flavor-shaped role lists, as the LMS would send them for a course role. */
export type RolePreset = 'instructor' | 'learner' | 'teachingAssistant' | 'contentDeveloper' | 'administrator';

export interface SigningOptions {
  /** 'none' produces an unsecured JWT (no signature). */
  alg?: 'RS256' | 'none';
  /** The header kid; e.g. one the JWKS does not hold. */
  kid?: string;
  /** 'other' signs with a key that is not in the JWKS (header kid still names the published key unless `kid` is set). */
  key?: 'platform' | 'other';
}

export interface LaunchOptions {
  user?: LaunchUser;
  /** Full role URIs (or short names), or a flavor-shaped preset. Default: 'learner'. */
  roles?: readonly string[] | RolePreset;
  /** `null` launches without a context (no context, NRPS or AGS claims). */
  context?: LaunchContext | null;
  resourceLink?: LaunchResourceLink;
  messageType?: MessageType;
  /** launch_presentation.locale (and the user's locale claim unless user.locale is set). */
  locale?: string;
  custom?: Record<string, string>;
  targetLinkUri?: string;
  /** How the platform calls the tool's login URL. Default GET. */
  initiationMethod?: 'GET' | 'POST';
  /** lti_storage_target sent with the login initiation (Canvas: 'post_message_forwarding'; spec default '_parent'). */
  storageTarget?: string;
  /** Canvas placement claim (https://www.instructure.com/placement). */
  placement?: string;
  /** deep_linking_settings.data; random by default. */
  deepLinkData?: string;
  /** Mutates claims before signing; return a new object or mutate in place. */
  tamper?: (claims: Claims) => Claims | void;
  signing?: SigningOptions;
  /** Sign with the nonce of the previous launch instead of the one the tool sent. */
  replayNonce?: boolean;
  /** Post a different state than the tool sent. */
  state?: 'mismatch';
}

export interface HttpResponse {
  status: number;
  /** Lower-case header names; repeated headers joined with ', ' (set-cookie with '\n'). */
  headers: Record<string, string>;
  body: string;
  url: string;
}

export interface Cookie {
  name: string;
  value: string;
  /** Host name the cookie belongs to (ports are not part of a cookie's scope, as in browsers). */
  host: string;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite?: string;
  /** Epoch ms; undefined for a session cookie. */
  expires?: number;
}

/** What the auth endpoint recorded for each OIDC authentication request it received. */
export interface AuthRequestRecord {
  at: number;
  method: string;
  params: Record<string, string>;
  /** undefined when the platform answered an id_token. */
  error?: string;
  errorDescription?: string;
}

export interface TokenRequestRecord {
  at: number;
  params: Record<string, string>;
  /** Claims of the client assertion, when it could be decoded. */
  assertionClaims?: Claims;
  assertionHeader?: Record<string, unknown>;
  status: number;
  error?: string;
  errorDescription?: string;
  grantedScopes?: string[];
}

export type MemberStatus = 'Active' | 'Inactive' | 'Deleted';

export interface Member {
  userId: string;
  roles: string[];
  status?: MemberStatus;
  name?: string;
  givenName?: string;
  familyName?: string;
  email?: string;
}

export interface SetMembersOptions {
  /** Per resource link id, the user ids that may access it (NRPS `rlid` filter). */
  perResourceLink?: Record<string, string[]>;
  /** Title and label used when the context was not launched yet. */
  title?: string;
  label?: string;
}

/** `slow`: every answer after a second. */
export type NrpsMode = 'ok' | 'down' | 'loop' | 'huge' | 'slow';
export type AgsMode = 'ok' | 'down' | 'garbage';

export interface LineItem {
  /** The line item URL (AGS uses the URL as the id). */
  id: string;
  label: string;
  scoreMaximum: number;
  tag?: string;
  resourceId?: string;
  resourceLinkId?: string;
  startDateTime?: string;
  endDateTime?: string;
}

export interface NewLineItem {
  label: string;
  scoreMaximum: number;
  tag?: string;
  resourceId?: string;
  resourceLinkId?: string;
}

export interface Score {
  userId: string;
  scoreGiven?: number;
  scoreMaximum?: number;
  comment?: string;
  activityProgress: string;
  gradingProgress: string;
  timestamp: string;
}

export interface Result {
  userId: string;
  resultScore?: number;
  resultMaximum?: number;
  comment?: string;
}

export interface DeepLinkResponseRecord {
  at: number;
  ok: boolean;
  error?: string;
  claims?: Claims;
  contentItems: Array<Record<string, unknown>>;
}

export interface DynamicRegistrationRecord {
  at: number;
  /** What the tool posted. */
  request: Record<string, unknown>;
  status: number;
  error?: string;
  clientId?: string;
  deploymentId?: string;
}
