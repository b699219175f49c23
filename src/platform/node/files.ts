/**
 * The board's flash files on the host: a folder, one file per name, with positioned
 * reads and writes on open descriptors (what littlefs or posix files are on a device).
 * `sync` is fsync, so a journal commit survives a SIGKILL and a power cut alike.
 */
import fs from "node:fs";
import path from "node:path";
import type { Files, StoredFile } from "../../app/board.js";

/** Plain names only: the firmware never reaches outside its folder. */
function check(name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name === "." || name === "..") throw new Error(`not a plain file name: "${name}"`);
  return name;
}

class NodeFile implements StoredFile {
  constructor(private fd: number) {}
  size(): number {
    return fs.fstatSync(this.fd).size;
  }
  read(into: Uint8Array, position: number): number {
    let n = 0;
    while (n < into.length) {
      const r = fs.readSync(this.fd, into, n, into.length - n, position + n);
      if (r === 0) break;
      n += r;
    }
    return n;
  }
  write(bytes: Uint8Array, position: number): void {
    let n = 0;
    while (n < bytes.length) n += fs.writeSync(this.fd, bytes, n, bytes.length - n, position + n);
  }
  truncate(length: number): void {
    fs.ftruncateSync(this.fd, length);
  }
  sync(): void {
    fs.fsyncSync(this.fd);
  }
  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** Files in folder `dir` (made when missing). */
export class NodeFiles implements Files {
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }
  open(name: string, create: boolean): StoredFile | null {
    const file = path.join(this.dir, check(name));
    try {
      return new NodeFile(fs.openSync(file, create ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDWR));
    } catch (e) {
      if (!create && (e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  }
  remove(name: string): void {
    fs.rmSync(path.join(this.dir, check(name)), { force: true });
  }
  rename(from: string, to: string): void {
    fs.renameSync(path.join(this.dir, check(from)), path.join(this.dir, check(to)));
  }
}
