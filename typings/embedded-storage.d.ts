/**
 * `embedded:storage/files` (ECMA-419 files, Moddable SDK 8): the root directory of the
 * board's file system, littlefs on a flash partition on the ESP32 and a host folder in
 * the desktop simulator (`config.files`, default the home folder). Positions are bytes;
 * failures throw.
 */
declare module "embedded:storage/files" {
  export interface FileStatus {
    readonly size: number;
    isFile(): boolean;
    isDirectory(): boolean;
  }

  export interface File {
    /** Reads into `buffer` (all of it, or to the end) from `position`; returns the count. */
    read(buffer: ArrayBufferView | ArrayBuffer, position: number): number;
    /** Writes all of `buffer` at `position`. */
    write(buffer: ArrayBufferView | ArrayBuffer, position: number): void;
    setSize(length: number): void;
    /** Commits what was written (littlefs sync, posix fsync). */
    flush(): void;
    status(): FileStatus;
    close(): void;
  }

  export interface Directory {
    /** mode "r", "r+", "w" (create, truncate) or "w+" (create, truncate, read too). */
    openFile(options: { path: string; mode?: "r" | "r+" | "w" | "w+" }): File;
    openDirectory(options: { path: string }): Directory;
    createDirectory(path: string): void;
    /** False when there was nothing to delete. */
    delete(path: string): boolean;
    /** Renames; an existing file at `to` is replaced. */
    move(from: string, to: string): void;
    /** A missing path gives a status that is neither a file nor a directory. */
    status(path: string): FileStatus;
    close(): void;
  }

  const files: Directory;
  export default files;
}
