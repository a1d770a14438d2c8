import { runDaemon } from '../daemon/index.js';
import { startSupervise } from './loop.js';
await runDaemon('supervise', (ctx) => startSupervise(ctx));
