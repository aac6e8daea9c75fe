// The repository's own files, as the deployment checks read them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
