// What every part of the simulator shares: the platform's identity and URLs, its keys, the tool it
// trusts, and its courses. The Platform owns one Site and hands it to each endpoint module.
import { randomBytes } from 'node:crypto';
import { ToolKeys, type PlatformKeys } from './keys.ts';
import { defaultsFor, fillPath, type FlavorDefaults, type Layout } from './layout.ts';
import type { Flavor, LaunchContext, Member, SetMembersOptions, ToolConfig } from './types.ts';

export interface Course {
  id: string;
  /** The LMS's own course number, used in its URLs. */
  number: number;
  title: string;
  label: string;
  members: Member[];
  perResourceLink?: Record<string, string[]>;
  /** True once a test set the members: the list is then exactly what it said. */
  explicitMembers?: boolean;
}

export class Courses {
  #byId = new Map<string, Course>();
  #byNumber = new Map<number, Course>();
  #next = 101;
  readonly #defaults: FlavorDefaults;

  constructor(defaults: FlavorDefaults) {
    this.#defaults = defaults;
  }

  /** The course for a context, created on first sight (Moodle's numeric ids double as course numbers). */
  ensure(context: LaunchContext): Course {
    const known = this.#byId.get(context.id);
    if (known) {
      if (context.title !== undefined) known.title = context.title;
      if (context.label !== undefined) known.label = context.label;
      return known;
    }
    let number = /^[1-9][0-9]{0,8}$/.test(context.id) ? Number(context.id) : 0;
    if (number === 0 || this.#byNumber.has(number)) {
      while (this.#byNumber.has(this.#next)) this.#next++;
      number = this.#next++;
    }
    const isDefault = context.id === this.#defaults.context.id;
    const course: Course = {
      id: context.id,
      number,
      title: context.title ?? (isDefault ? this.#defaults.context.title : `Course ${context.id}`),
      label: context.label ?? (isDefault ? this.#defaults.context.label : `C${number}`),
      members: [],
    };
    this.#byId.set(course.id, course);
    this.#byNumber.set(number, course);
    return course;
  }

  byId(id: string): Course | undefined {
    return this.#byId.get(id);
  }

  byNumber(number: number): Course | undefined {
    return this.#byNumber.get(number);
  }

  setMembers(contextId: string, members: readonly Member[], options: SetMembersOptions = {}): Course {
    const course = this.ensure({ id: contextId, title: options.title, label: options.label });
    course.members = members.map((m) => ({ ...m, roles: [...m.roles] }));
    course.perResourceLink = options.perResourceLink ? structuredClone(options.perResourceLink) : undefined;
    course.explicitMembers = true;
    return course;
  }

  /**
   * A launch into a course whose members no test set enrols the user, as a real LMS would only
   * launch its members: NRPS then lists everyone who launched, with the roles of their launch.
   */
  enrolOnLaunch(course: Course, member: Member): void {
    if (course.explicitMembers) return;
    const known = course.members.find((m) => m.userId === member.userId);
    if (known) known.roles = [...member.roles];
    else course.members.push({ ...member, roles: [...member.roles], status: 'Active' });
  }
}

export interface SiteInit {
  flavor: Flavor;
  layout: Layout;
  baseUrl: string;
  issuer: string;
  name: string;
  clientId: string;
  deploymentId: string;
  keys: PlatformKeys;
}

export class Site {
  readonly flavor: Flavor;
  readonly layout: Layout;
  readonly baseUrl: string;
  readonly issuer: string;
  readonly name: string;
  readonly keys: PlatformKeys;
  readonly defaults: FlavorDefaults;
  readonly courses: Courses;
  readonly guid = randomBytes(20).toString('hex');
  /** Signs Canvas-style lti_message_hint JWTs. */
  readonly hintSecret = randomBytes(32);
  clientId: string;
  deploymentIds: string[];
  #tool: { config: ToolConfig; keys: ToolKeys } | undefined;

  constructor(init: SiteInit) {
    this.flavor = init.flavor;
    this.layout = init.layout;
    this.baseUrl = init.baseUrl;
    this.issuer = init.issuer;
    this.name = init.name;
    this.keys = init.keys;
    this.clientId = init.clientId;
    this.deploymentIds = [init.deploymentId];
    this.defaults = defaultsFor(init.flavor);
    this.courses = new Courses(this.defaults);
  }

  get deploymentId(): string {
    return this.deploymentIds[0] ?? '';
  }

  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  useTool(config: ToolConfig): void {
    for (const [key, value] of Object.entries(config)) {
      if (typeof value === 'string' && !URL.canParse(value)) throw new TypeError(`useTool: ${key} is not a URL: ${value}`);
    }
    const keys = this.#tool?.keys.url === config.jwksUrl ? this.#tool.keys : new ToolKeys(config.jwksUrl);
    this.#tool = { config: { ...config }, keys };
  }

  get tool(): ToolConfig | undefined {
    return this.#tool?.config;
  }

  requireTool(): ToolConfig {
    if (!this.#tool) throw new Error('the platform knows no tool yet: call platform.useTool({ loginUrl, launchUrl, jwksUrl }) first');
    return this.#tool.config;
  }

  toolKeys(): ToolKeys {
    if (!this.#tool) throw new Error('the platform knows no tool yet: call platform.useTool() first');
    return this.#tool.keys;
  }

  redirectUris(): string[] {
    const tool = this.#tool?.config;
    if (!tool) return [];
    return tool.redirectUris ?? [tool.launchUrl, ...(tool.deepLinkUrl ? [tool.deepLinkUrl] : [])];
  }

  membershipsUrl(course: Course): string {
    return this.url(fillPath(this.layout.memberships, { course: course.number, binding: this.deploymentId })) + this.layout.serviceQuery(this.deploymentId);
  }

  lineItemsUrl(course: Course): string {
    return this.url(fillPath(this.layout.lineItems, { course: course.number })) + this.layout.serviceQuery(this.deploymentId);
  }

  lineItemUrl(course: Course, item: number): string {
    return this.url(fillPath(this.layout.lineItem, { course: course.number, item })) + this.layout.serviceQuery(this.deploymentId);
  }
}
