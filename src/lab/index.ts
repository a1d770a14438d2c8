/** The network-namespace lab: public entry point. */
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
