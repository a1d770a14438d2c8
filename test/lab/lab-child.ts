/**
 * Helper process for test/lab/lab.test.ts (not a test itself): builds a lab,
 * installs lb1, starts a long-running process in lb1, prints one JSON line
 * describing what it made, then idles until it is signalled or killed.
 */
import { createLab, installNode } from '../../tools/lab/index.js';

const lab = await createLab();
const inst = await installNode(lab, 'lb1');
const sleeper = lab.spawn('lb1', 'sleep', ['1000'], { stdio: 'ignore' });
process.stdout.write(
  `${JSON.stringify({
    prefix: lab.prefix,
    namespaces: [lab.switchNs, lab.gw.ns, lab.nodes.lb1.ns, lab.nodes.lb2.ns, lab.client.ns],
    pids: [lab.nodes.lb1.keeperPid, lab.nodes.lb2.keeperPid, sleeper.pid],
    installDir: inst.dir,
  })}\n`,
);
setInterval(() => {
  /* idle until signalled */
}, 1000);
