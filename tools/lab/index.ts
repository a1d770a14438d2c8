/**
 * The network-namespace lab: public entry point (root only; see labSupport()).
 *
 *   const lab = await createLab();                 // sweeps crashed runs' leftovers first
 *   await installNode(lab, 'lb1', { config: { DEADTIME: 200 } });
 *   await lab.cli('lb1', ['start']);               // or lab.cli('lb1', { stdin: 'start\nq\n' })
 *   const watch = await watchVip(lab);             // timestamped VIP add/del per node
 *   const t = await lab.faults.hostDeath('lb1');   // t.start / t.end: performance.now()
 *   await lab.vipHolders({ effective: true });
 *   await lab.destroy();                           // also done on exit, SIGINT, SIGTERM, SIGHUP, crash
 */
export {
  createLab, canMakeNamespaces, labSupport, NODE_NAMES, HOST_IPS, GW_IP, VIP, VIP_CIDR, LAB_SUBNET,
  type Lab, type LabHost, type LabNode, type LabFaults, type NodeFaults, type FaultTime, type HostName,
  type HostRef, type NodeName, type CreateLabOptions, type LabSpawnOptions, type RunOptions, type RunResult,
} from './lab.js';
export { sweepLeftovers, PREFIX_PATTERN, LAB_RUN_DIR } from './cleanup.js';
export {
  installNode, readDaemonPids, findPhaRoot, baseConfig, applyOverrides,
  type InstallOptions, type NodeInstall, type DaemonPids, type ConfigValue,
} from './install.js';
export {
  watchVip, sampleHolders, VipWatch, HolderSampler, type VipEvent, type HolderChange, type WatchOptions,
} from './vip-watch.js';
export { inLabRange } from './exec.js';
export {
  LAB_TOOLS, missingLabTools, planLab, packagesFor, installLine,
  type LabTool, type MissingTool, type LabPlan, type LabPlanInput,
} from './prereq.js';
export { extraFaults, sweepExtraLeftovers, HANG_SCRIPT, type ExtraFaults, type DaemonName, type FillResult, type KillResult, type LossStats } from './faults-extra.js';
