// What the lab's extra faults share: the lab, its installs, a timed step.
import path from 'node:path';
import type { NodeInstall } from './install.js';
import type { FaultTime, Lab, NodeName } from './types.js';

export abstract class LabPart {
  constructor(protected readonly lab: Lab) {}

  protected inst(node: NodeName): NodeInstall {
    const inst = this.lab.installs[node];
    if (!inst) throw new Error(`installNode(lab, '${node}') first`);
    return inst;
  }

  protected varDir(node: NodeName): string {
    return path.join(this.inst(node).dir, 'var');
  }

  protected statusFile(node: NodeName): string {
    return path.join(this.varDir(node), 'status.dat');
  }

  protected timed = async (fn: () => Promise<void> | void): Promise<FaultTime> => {
    if (this.lab.destroyed) throw new Error(`lab ${this.lab.prefix} is destroyed`);
    const start = performance.now();
    await fn();
    return { start, end: performance.now() };
  };
}
