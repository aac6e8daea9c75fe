// The STUN/TURN servers a browser is handed for its media connections (TURN_URLS, TURN_SECRET),
// with credentials in the TURN REST scheme coturn checks (static-auth-secret): the user name is
// "<expiry>:<user id>", the password base64(HMAC-SHA1(secret, user name)).
import { createHmac } from 'node:crypto';
import type { IceServerInfo } from '../protocol/index.ts';

/** TURN credentials live this long (coturn checks the expiry in the user name). */
const TURN_CREDENTIAL_SECONDS = 12 * 3600;

/** The servers for `userId`'s browser: STUN as they are, TURN with credentials when a secret is set. */
export function iceServers(turn: { urls: readonly string[]; secret: string | undefined }, userId: string, now = Date.now()): IceServerInfo[] {
  const { urls, secret } = turn;
  if (urls.length === 0) return [];
  const stun = urls.filter((u) => u.startsWith('stun:'));
  const relays = urls.filter((u) => !u.startsWith('stun:'));
  const out: IceServerInfo[] = [];
  if (stun.length > 0) out.push({ urls: stun });
  if (relays.length > 0 && secret) {
    const username = `${Math.floor(now / 1000) + TURN_CREDENTIAL_SECONDS}:${userId}`;
    out.push({ urls: relays, username, credential: createHmac('sha1', secret).update(username).digest('base64') });
  }
  return out;
}
