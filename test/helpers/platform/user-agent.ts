// A minimal browser: a cookie jar, redirects followed as browsers do, and HTML forms it can submit.
// It runs no JavaScript; a page that needs script (e.g. postMessage storage) is handed back to the caller.
import type { Cookie, HttpResponse } from './types.ts';

export class CookieJar {
  #cookies: Cookie[] = [];

  /** Stores the Set-Cookie headers of a response from `url`. */
  store(url: string, setCookies: readonly string[]): void {
    const { hostname, pathname } = new URL(url);
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie: Cookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        host: hostname,
        path: pathname.slice(0, pathname.lastIndexOf('/') + 1) || '/',
        secure: false,
        httpOnly: false,
      };
      let maxAge: number | undefined;
      for (const attribute of attributes) {
        const [rawKey = '', ...rest] = attribute.split('=');
        const key = rawKey.trim().toLowerCase();
        const value = rest.join('=').trim();
        if (key === 'path' && value.startsWith('/')) cookie.path = value;
        else if (key === 'secure') cookie.secure = true;
        else if (key === 'httponly') cookie.httpOnly = true;
        else if (key === 'samesite') cookie.sameSite = value;
        else if (key === 'max-age') maxAge = Number(value);
        else if (key === 'expires' && maxAge === undefined) {
          const at = Date.parse(value);
          if (!Number.isNaN(at)) cookie.expires = at;
        }
      }
      if (maxAge !== undefined && !Number.isNaN(maxAge)) cookie.expires = Date.now() + maxAge * 1000;
      this.#cookies = this.#cookies.filter((c) => !(c.name === cookie.name && c.host === cookie.host && c.path === cookie.path));
      if (cookie.expires === undefined || cookie.expires > Date.now()) this.#cookies.push(cookie);
    }
  }

  set(url: string, name: string, value: string): void {
    this.store(url, [`${name}=${value}; Path=/; HttpOnly; SameSite=Lax`]);
  }

  /** The Cookie header a browser would send to `url` (cookies are scoped by host, not port). */
  header(url: string): string {
    const { hostname, pathname } = new URL(url);
    const now = Date.now();
    return this.#cookies
      .filter((c) => c.host === hostname && pathname.startsWith(c.path) && (c.expires === undefined || c.expires > now))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  list(): Cookie[] {
    const now = Date.now();
    return this.#cookies.filter((c) => c.expires === undefined || c.expires > now).map((c) => ({ ...c }));
  }

  clear(): void {
    this.#cookies = [];
  }
}

export interface ParsedForm {
  action: string;
  method: 'GET' | 'POST';
  fields: Record<string, string>;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

function attributesOf(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([^\s=<>/"']+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    const name = m[1];
    if (name) out[name.toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

/** The forms of an HTML page with their hidden/text inputs and textareas, actions made absolute. */
export function parseForms(html: string, pageUrl: string): ParsedForm[] {
  const forms: ParsedForm[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = attributesOf(m[1] ?? '');
    const fields: Record<string, string> = {};
    for (const input of (m[2] ?? '').matchAll(/<input\b([^>]*)>/gi)) {
      const a = attributesOf(input[1] ?? '');
      const type = (a.type ?? 'text').toLowerCase();
      // As browsers do: unchecked boxes and radio buttons send nothing; a checked one without value sends "on".
      if ((type === 'checkbox' || type === 'radio') && a.checked === undefined) continue;
      if (a.name !== undefined && !['submit', 'button', 'image', 'file'].includes(type)) fields[a.name] = a.value ?? (type === 'checkbox' || type === 'radio' ? 'on' : '');
    }
    for (const area of (m[2] ?? '').matchAll(/<textarea\b([^>]*)>([\s\S]*?)<\/textarea>/gi)) {
      const a = attributesOf(area[1] ?? '');
      if (a.name !== undefined) fields[a.name] = decodeEntities(area[2] ?? '');
    }
    forms.push({
      action: new URL(attrs.action || pageUrl, pageUrl).toString(),
      method: (attrs.method ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET',
      fields,
    });
  }
  return forms;
}

export interface RequestInit {
  method?: 'GET' | 'POST';
  form?: Record<string, string>;
  headers?: Record<string, string>;
  /** The page the request comes from; a cross-origin POST carries its Origin, as browsers send it. */
  from?: string;
}

const MAX_REDIRECTS = 20;

export class UserAgent {
  readonly jar = new CookieJar();
  /** Every response seen, in order (redirect hops included). */
  readonly history: HttpResponse[] = [];

  /** One request, no redirect followed; cookies sent and stored. */
  async request(url: string, init: RequestInit = {}): Promise<HttpResponse> {
    const method = init.method ?? 'GET';
    const headers: Record<string, string> = { 'user-agent': 'lti-platform-simulator', accept: 'text/html,application/json;q=0.9,*/*;q=0.8', ...init.headers };
    const cookie = this.jar.header(url);
    if (cookie) headers.cookie = cookie;
    let body: URLSearchParams | undefined;
    if (method === 'POST') {
      body = new URLSearchParams(init.form ?? {});
      headers['content-type'] = 'application/x-www-form-urlencoded';
      if (init.from) headers.origin = new URL(init.from).origin;
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    this.jar.store(url, res.headers.getSetCookie());
    const out: HttpResponse = { status: res.status, headers: {}, body: await res.text(), url };
    res.headers.forEach((value, name) => {
      out.headers[name] = value;
    });
    const setCookies = res.headers.getSetCookie();
    if (setCookies.length > 0) out.headers['set-cookie'] = setCookies.join('\n');
    this.history.push(out);
    return out;
  }

  /** A request, then every redirect after it, as a browser navigation. Resolves with the final response. */
  async navigate(url: string, init: RequestInit = {}): Promise<HttpResponse> {
    let current = url;
    let currentInit = init;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const res = await this.request(current, currentInit);
      const location = res.headers.location;
      if (res.status < 300 || res.status >= 400 || !location) return res;
      const next = new URL(location, current).toString();
      // 301/302/303 turn a POST into a GET; 307/308 repeat it.
      currentInit = res.status === 307 || res.status === 308 ? { ...currentInit, from: current } : { headers: currentInit.headers };
      current = next;
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects from ${url}`);
  }

  /** Submits a form of `response` (the first by default), following redirects. */
  async submitForm(response: HttpResponse, index = 0, overrides: Record<string, string> = {}): Promise<HttpResponse> {
    const form = parseForms(response.body, response.url)[index];
    if (!form) throw new Error(`no form #${index} in the page from ${response.url}`);
    const fields = { ...form.fields, ...overrides };
    if (form.method === 'GET') {
      const target = new URL(form.action);
      for (const [k, v] of Object.entries(fields)) target.searchParams.set(k, v);
      return this.navigate(target.toString());
    }
    return this.navigate(form.action, { method: 'POST', form: fields, from: response.url });
  }
}
