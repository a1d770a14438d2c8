// A small file replaced atomically and durably: temp file (created with its
// final mode) + fsync + rename + fsync of the directory. After a crash or a
// power cut the file holds the old or the new content, never a mix or nothing.
import fs from 'node:fs';
import path from 'node:path';

let seq = 0;

export function writeFileDurable(file: string, text: string, mode: number, opts: { durable?: boolean } = {}): void {
  const durable = opts.durable ?? true;
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp.${process.pid}.${seq++}`);
  let fd: number | undefined;
  try {
    // 'wx': a leftover temp file of a dead pid is never followed through a symlink.
    fd = fs.openSync(tmp, 'wx', mode);
    fs.fchmodSync(fd, mode); // the umask must not widen or narrow it
    fs.writeSync(fd, text);
    if (durable) fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  if (durable) {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  }
}
