import { runDaemon } from '../daemon/index.js';
import { startReceiver } from './index.js';
await runDaemon('receiver', (ctx) => startReceiver(ctx));
