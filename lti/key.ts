// The key that encrypts what ltijs stores and signs its session tokens: LTI_KEY when set,
// otherwise generated once and kept in DATA_DIR/lti.key (readable by the tool's user only).
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const KEY_FILE = 'lti.key';

export function resolveLtiKey(configured: string | undefined, dataDir: string): { key: string; source: string } {
  if (configured !== undefined) return { key: configured, source: 'LTI_KEY' };
  const path = join(dataDir, KEY_FILE);
  mkdirSync(dataDir, { recursive: true });
  try {
    // 'wx' fails if the file exists, so two nodes sharing DATA_DIR cannot each write their own key.
    writeFileSync(path, `${randomBytes(48).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
    return { key: readFileSync(path, 'utf8').trim(), source: `${path} (generated now)` };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const key = readFileSync(path, 'utf8').trim();
  if (key.length < 32) throw new Error(`${path} holds a key shorter than 32 characters; remove it or set LTI_KEY.`);
  return { key, source: path };
}
