// Requests the tool makes to an address a stranger gave it (LTI Dynamic Registration's
// openid_configuration, and the registration_endpoint that document names). Without care such a
// request reaches what only the tool's machine can reach: loopback services, the private network, a
// cloud's metadata service (169.254.169.254). Here the host is resolved first and every address it
// resolves to must be public unicast; the connection then goes to an address that was checked (the
// check runs inside the socket's own lookup, so a name that resolves differently a second time
// gains nothing). Redirects are followed by hand, each hop checked again. Hosts an administrator
// names (LTI_REGISTRATION_PRIVATE_HOSTS) may resolve to loopback and private addresses: an LMS on
// the campus network is real. Multicast and unspecified addresses are never reached.
import { lookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';

/** A request the policy refused before connecting; its message is for the log, not for the page. */
export class OutboundRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundRefusedError';
  }
}

/** Any other failure of an outbound request (unreachable, too slow, too large, too many redirects). */
export class OutboundFailedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OutboundFailedError';
  }
}

const never = new BlockList();
never.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network", 0.0.0.0 included
never.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast
never.addAddress('255.255.255.255', 'ipv4');
never.addAddress('::', 'ipv6');
never.addSubnet('ff00::', 8, 'ipv6'); // multicast

const privateRanges = new BlockList();
const linkLocal = new BlockList();
linkLocal.addSubnet('169.254.0.0', 16, 'ipv4'); // cloud metadata services live here
linkLocal.addSubnet('fe80::', 10, 'ipv6');
for (const [network, prefix] of [
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['240.0.0.0', 4],
] as const) {
  privateRanges.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::1', 128],
  ['::', 96], // IPv4-compatible (deprecated): ::a.b.c.d
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments (Teredo, benchmarking, ORCHID)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['fc00::', 7], // unique local
  ['fec0::', 10], // site-local (deprecated)
] as const) {
  privateRanges.addSubnet(network, prefix, 'ipv6');
}

/** The IPv4 address a NAT64 address (64:ff9b::/96) carries, if it is one. */
function nat64Embedded(address: string): string | undefined {
  const match = /^64:ff9b::(?:([0-9a-f]{1,4}):([0-9a-f]{1,4})|(\d+\.\d+\.\d+\.\d+))$/i.exec(address);
  if (!match) return undefined;
  if (match[3]) return match[3];
  const high = Number.parseInt(match[1] as string, 16);
  const low = Number.parseInt(match[2] as string, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/**
 * What an address is: `public` unicast, `private` (loopback, private, reserved), `link-local`
 * (169.254/16, fe80::/10: where clouds serve their metadata), or `never` (multicast, unspecified).
 */
export function classifyAddress(address: string): 'public' | 'private' | 'link-local' | 'never' {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 0) return 'never';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const embedded = type === 'ipv6' ? nat64Embedded(bare) : undefined;
  if (embedded !== undefined) return classifyAddress(embedded);
  if (never.check(bare, type)) return 'never';
  // BlockList matches IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) against the IPv4 rules.
  if (linkLocal.check(bare, type)) return 'link-local';
  if (privateRanges.check(bare, type)) return 'private';
  return 'public';
}

/** Host names (exact, or `*.example.edu` for its subdomains) allowed to resolve to private addresses. */
export function hostAllowList(entries: readonly string[]): (host: string) => boolean {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase().replace(/^\[|\]$/g, '');
    if (entry === '') continue;
    if (entry.startsWith('*.')) suffixes.push(entry.slice(1));
    else exact.add(entry);
  }
  return (host) => {
    const name = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
    return exact.has(name) || suffixes.some((suffix) => name.endsWith(suffix));
  };
}

export interface OutboundPolicy {
  /** Hosts that may resolve to loopback, private or link-local addresses. */
  allowPrivate: (host: string) => boolean;
  /** Link-local addresses refused even for hosts `allowPrivate` allows. */
  neverLinkLocal?: boolean;
  timeoutMs: number;
  /** Largest response body read. */
  maxBytes: number;
  maxRedirects: number;
}

export interface OutboundRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

export interface OutboundResponse {
  status: number;
  /** The body as text (at most `maxBytes`). */
  text: string;
  /** The URL that answered, after redirects. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Throws OutboundRefusedError unless `address` may be reached for `host`. */
function checkAddress(host: string, address: string, policy: OutboundPolicy): void {
  const kind = classifyAddress(address);
  if (kind === 'public') return;
  if (kind === 'never') throw new OutboundRefusedError(`${host} resolves to ${address}, which is never reached`);
  if (kind === 'link-local' && policy.neverLinkLocal) throw new OutboundRefusedError(`${host} resolves to ${address}, a link-local address (a cloud's metadata service lives there), which is never reached`);
  if (policy.allowPrivate(host)) return;
  throw new OutboundRefusedError(`${host} resolves to ${address}, a loopback, private or link-local address (not in LTI_REGISTRATION_PRIVATE_HOSTS)`);
}

/** Resolves a URL's host and throws OutboundRefusedError unless every address may be reached (nothing is sent). */
export async function checkReachable(url: string, policy: OutboundPolicy): Promise<void> {
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new OutboundRefusedError(`${target.protocol} URLs are not fetched`);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) return checkAddress(host, host, policy);
  const addresses = await new Promise<LookupAddress[]>((resolve, reject) => lookup(host, { all: true }, (error, found) => (error ? reject(error) : resolve(found))));
  if (addresses.length === 0) throw new OutboundFailedError(`${host} has no address`);
  for (const { address } of addresses) checkAddress(host, address, policy);
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A socket lookup that resolves every address of the host and refuses unless all may be reached. */
function checkedLookup(policy: OutboundPolicy) {
  return (hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void => {
    lookup(hostname, { all: true, family: typeof options.family === 'number' ? options.family : 0 }, (error, addresses) => {
      if (error) return callback(error, []);
      try {
        if (addresses.length === 0) throw new OutboundFailedError(`${hostname} has no address`);
        for (const { address } of addresses) checkAddress(hostname, address, policy);
      } catch (refusal) {
        return callback(refusal as NodeJS.ErrnoException, []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

function once(target: URL, init: OutboundRequest, policy: OutboundPolicy, deadline: number): Promise<{ response: IncomingMessage; text: string }> {
  const host = target.hostname.replace(/^\[|\]$/g, '');
  // A literal address never goes through the lookup: check it here.
  if (isIP(host) !== 0) checkAddress(host, host, policy);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const remaining = Math.max(1, deadline - Date.now());
    const req = request(
      target,
      {
        method: init.method ?? 'GET',
        headers: { ...(init.headers ?? {}), ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}) },
        lookup: checkedLookup(policy) as never,
        // A connection of its own, opened to a checked address (never one a pool kept from elsewhere).
        agent: false,
        timeout: remaining,
        signal: AbortSignal.timeout(remaining),
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > policy.maxBytes) {
            req.destroy(new OutboundFailedError(`the answer is larger than ${policy.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve({ response, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new OutboundFailedError(`no answer within ${policy.timeoutMs / 1000} s`)));
    req.on('error', (error) => reject(error));
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}

/**
 * An HTTP(S) request to a stranger's URL under `policy`. Rejects with OutboundRefusedError when an
 * address is not allowed, OutboundFailedError (or a network error) otherwise; answers any status.
 */
export async function fetchOutbound(url: string, init: OutboundRequest, policy: OutboundPolicy): Promise<OutboundResponse> {
  const deadline = Date.now() + policy.timeoutMs;
  let target = new URL(url);
  let request = init;
  for (let hop = 0; ; hop++) {
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new OutboundRefusedError(`${target.protocol} URLs are not fetched`);
    if (target.username || target.password) throw new OutboundRefusedError('URLs with credentials are not fetched');
    const { response, text } = await once(target, request, policy, deadline);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status >= 300 && status < 400 && location !== undefined) {
      if (hop >= policy.maxRedirects) throw new OutboundFailedError(`more than ${policy.maxRedirects} redirects`);
      const next = new URL(location, target);
      // 303, and 301/302 after a POST, continue as a GET without the body (as browsers do); the
      // credentials (a registration token) go only to the origin they were given for.
      let headers = { ...(request.headers ?? {}) };
      if (next.origin !== target.origin) headers = Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
      if (status === 303 || ((status === 301 || status === 302) && request.method === 'POST')) {
        headers = Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'content-type'));
        request = { method: 'GET', headers };
      } else {
        request = { ...request, headers };
      }
      target = next;
      continue;
    }
    return { status, text, url: target.toString(), headers: response.headers };
  }
}
