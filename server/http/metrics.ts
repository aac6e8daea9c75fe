// GET /metrics for Prometheus. With METRICS_TOKEN set, only `Authorization: Bearer <token>` gets
// in (from anywhere); without it, only connections from loopback or a private network, told by the
// socket's own peer address (a proxy's X-Forwarded-For is not believed: anyone can send one).
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { RequestHandler } from 'express';
import { HttpError } from './errors.ts';

export interface MetricsEndpoint {
  /** METRICS_TOKEN; undefined serves loopback and private addresses only. */
  token: string | undefined;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

const PRIVATE = new BlockList();
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addAddress('::1', 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');

/** Loopback or a private network (10/8, 172.16/12, 192.168/16, fc00::/7, IPv4-mapped ones included). */
export function isPrivateAddress(address: string | undefined): boolean {
  if (!address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  try {
    return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1] as string), digest(token));
}

export function metricsHandler({ token, render }: MetricsEndpoint): RequestHandler {
  return (req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    if (token !== undefined) {
      if (!bearerMatches(req.get('authorization'), token)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
        return next(new HttpError(401, 'Metrics need "Authorization: Bearer <METRICS_TOKEN>".'));
      }
    } else if (!isPrivateAddress(req.socket.remoteAddress) || req.get('x-forwarded-for') !== undefined) {
      // Through a reverse proxy every request comes from a private address: a forwarded one is
      // somebody's on the internet, unless the token says otherwise.
      return next(
        new HttpError(403, 'Metrics are served only to loopback and private-network addresses while METRICS_TOKEN is unset. Set METRICS_TOKEN and scrape with "Authorization: Bearer <token>" to reach them from elsewhere.'),
      );
    }
    render().then(({ contentType, body }) => {
      res.setHeader('Content-Type', contentType);
      res.send(body);
    }, next);
  };
}
