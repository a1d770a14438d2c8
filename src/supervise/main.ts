import { runDaemon } from '../daemon/index.js';
import { startSupervise } from './shell.js';

await runDaemon('supervise', (ctx) => startSupervise(ctx));
