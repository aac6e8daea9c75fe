// The admin token: a random secret the running tool writes to DATA_DIR/admin.token (mode 0600) at
// start-up, and that `npm run platform` sends to the tool's admin API. Whoever can read DATA_DIR
// is the tool's administrator anyway (it holds the database and the LTI key).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ADMIN_TOKEN_FILE = 'admin.token';

/** Writes a new token (replacing any older one) and returns it. */
export function writeAdminToken(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(32).toString('base64url');
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${token}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, path);
  return token;
}

/** The token in DATA_DIR; throws (EACCES, ENOENT) when it cannot be read. */
export function readAdminToken(dataDir: string): string {
  return readFileSync(join(dataDir, ADMIN_TOKEN_FILE), 'utf8').trim();
}

/** Removes the token file if it still holds `token` (a newer process may have replaced it). */
export function removeAdminToken(dataDir: string, token: string): void {
  try {
    if (readAdminToken(dataDir) === token) unlinkSync(join(dataDir, ADMIN_TOKEN_FILE));
  } catch {
    // gone already
  }
}

/** Compares in constant time (hashing first, so lengths do not leak either). */
export function tokensMatch(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
