import path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/src/paths.js → package root is two levels up from dist/src.
const here = path.dirname(fileURLToPath(import.meta.url));
export const PACKAGE_ROOT = path.resolve(here, '..', '..');
export const PACKAGE_RES_DIR = path.join(PACKAGE_ROOT, 'res');
export const PACKAGE_BIN_DIR = path.join(PACKAGE_ROOT, 'bin');
export const DEFAULT_CONFIG = '/opt/pha/etc/config';
