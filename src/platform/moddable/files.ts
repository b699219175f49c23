/// <reference path="../../../typings/index.d.ts" />
/**
 * The board's flash files on Moddable: ECMA-419 `embedded:storage/files`, littlefs on the
 * ESP32's `storage` partition (mcconfig makes one of 64 KB from the app partition when the
 * files module is in the build) and a folder in the desktop simulator (`config.files`,
 * default the home folder). Everything lives in the folder `xsmqtt`.
 */
import root from "embedded:storage/files";
import type { File } from "embedded:storage/files";
import type { Files, StoredFile } from "../../app/board.js";

class FlashFile implements StoredFile {
  constructor(private file: File | null) {}
  private get f(): File {
    if (!this.file) throw new Error("file is closed");
    return this.file;
  }
  size(): number {
    return this.f.status().size;
  }
  read(into: Uint8Array, position: number): number {
    return this.f.read(into, position);
  }
  write(bytes: Uint8Array, position: number): void {
    this.f.write(bytes, position);
  }
  truncate(length: number): void {
    this.f.setSize(length);
  }
  sync(): void {
    this.f.flush();
  }
  close(): void {
    const f = this.file;
    this.file = null;
    f?.close();
  }
}

/** The files in `<root>/<folder>`; null when the board has no file system (its partition is missing). */
export function flashFiles(folder = "xsmqtt"): Files | null {
  let dir;
  try {
    root.createDirectory(folder);
    dir = root.openDirectory({ path: folder });
  } catch {
    return null;
  }
  return {
    open(name: string, create: boolean): StoredFile | null {
      if (dir.status(name).isFile()) return new FlashFile(dir.openFile({ path: name, mode: "r+" }));
      return create ? new FlashFile(dir.openFile({ path: name, mode: "w+" })) : null;
    },
    remove(name: string): void {
      dir.delete(name);
    },
    rename(from: string, to: string): void {
      dir.move(from, to);
    },
  };
}
