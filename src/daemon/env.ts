/** Environment flag set on a daemon that already runs detached (by pha-cli or its own re-spawn). */
export const DETACHED_ENV = 'PHA_DETACHED';
