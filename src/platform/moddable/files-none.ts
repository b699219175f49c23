/**
 * For builds without ECMA-419 files (the Windows simulator): no flash files, so the
 * readings journal keeps what it holds in RAM (through outages, not reboots).
 */
import type { Files } from "../../app/board.js";

export function flashFiles(_folder = "xsmqtt"): Files | null {
  return null;
}
