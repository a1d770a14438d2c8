import { runDaemon } from '../daemon/index.js';
import { startSender } from './shell.js';

await runDaemon('sender', (ctx) => startSender(ctx));
