import { runDaemon } from '../daemon/index.js';
import { startReceiver } from './shell.js';

await runDaemon('receiver', (ctx) => startReceiver(ctx));
