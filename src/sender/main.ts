import { runDaemon } from '../daemon/index.js';
import { startSender } from './index.js';
await runDaemon('sender', (ctx) => startSender(ctx));
