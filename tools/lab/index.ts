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

export { LAB_RUN_DIR, PREFIX_PATTERN, sweepLeftovers } from './cleanup.js';
export { inLabRange } from './exec.js';
export {
  type DaemonName,
  type ExtraFaults,
  extraFaults,
  type FillResult,
  HANG_SCRIPT,
  type KillResult,
  type LossStats,
  sweepExtraLeftovers,
} from './faults-extra.js';
export {
  applyOverrides,
  baseConfig,
  type ConfigValue,
  type DaemonPids,
  findPhaRoot,
  type InstallOptions,
  installNode,
  type NodeInstall,
  readDaemonPids,
} from './install.js';
export {
  type CreateLabOptions,
  canMakeNamespaces,
  createLab,
  type FaultTime,
  GW_IP,
  HB_IP6,
  HB_IPS,
  HOST_IPS,
  type HostName,
  type HostRef,
  IP6,
  LAB_SUBNET,
  type Lab,
  type LabFaults,
  type LabHost,
  type LabNode,
  type LabSpawnOptions,
  labSupport,
  NODE_NAMES,
  type NodeFaults,
  type NodeName,
  type RunOptions,
  type RunResult,
  VIP,
  VIP_CIDR,
  VIP6,
  VIP6_CIDR,
} from './lab.js';
export {
  installLine,
  LAB_TOOLS,
  type LabPlan,
  type LabPlanInput,
  type LabTool,
  type MissingTool,
  missingLabTools,
  packagesFor,
  planLab,
} from './prereq.js';
export {
  type HolderChange,
  HolderSampler,
  sampleHolders,
  type VipEvent,
  VipWatch,
  type WatchOptions,
  watchVip,
} from './vip-watch.js';
