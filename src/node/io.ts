// File output for Node: every file is written to a temporary name, flushed to the disk (fsync) and
// renamed into place, so an interrupted run (Ctrl-C, a crash, a power loss) never leaves a
// half-written or empty file under the real name. Ctrl-C keeps its default action (stop at once): a
// handler could not run anyway while a synchronous training loop or write holds the event loop. A
// temporary left by a process that was killed mid-write is removed the next time a folder is
// prepared for output; one whose process still runs (another run writing into the same folder) is left alone.
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { PNG } from "pngjs";
import type { Image } from "../models/heatmap.js";

/** .<name>.<pid>.<random>.tmp: the pid says whose it is. */
const TEMPORARY = /^\..+\.(\d+)\.[a-z0-9]+\.tmp$/;

/** What is at `file` when it is something a write must not replace (a link, a device, a folder), else null. */
function notARegularFile(file: string): string | null {
  let stats: ReturnType<typeof lstatSync>;
  try {
    stats = lstatSync(file);
  } catch {
    return null; // nothing there yet
  }
  if (stats.isFile()) return null;
  return stats.isSymbolicLink()
    ? "a symbolic link"
    : stats.isDirectory()
      ? "a folder"
      : stats.isCharacterDevice() || stats.isBlockDevice()
        ? "a device"
        : stats.isFIFO()
          ? "a named pipe"
          : stats.isSocket()
            ? "a socket"
            : "not a regular file";
}

// A Set: a checkpoint rewritten every epoch is one file kept, listed once (in the order first written).
const written = new Set<string>();

/** Every file this process has written (atomically, so each one whole), once each, in order: what an interrupted run kept. */
export function filesWritten(): readonly string[] {
  return [...written];
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const existing = notARegularFile(file);
  if (existing)
    throw new UserError(
      `refusing to write ${path.resolve(file)}: it is ${existing}, and writing would replace it with a regular file; choose another output`,
    );
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`,
  );
  try {
    const fd = openSync(tmp, "wx"); // wx: never follow or reuse something already at this name
    try {
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
      fsyncSync(fd); // the bytes are on the disk before the name points at them
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    written.add(file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  syncFolder(path.dirname(file));
}

/** fsync a folder, so that a rename in it survives a power loss (where the platform allows it). */
function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Windows cannot open a folder for fsync; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Whether process `pid` is running (signal 0 tests for it without sending anything). */
function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // running, as another user
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

export function writePng(file: string, image: Image): void {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  writeFileAtomic(file, PNG.sync.write(png));
}

/**
 * Create the output folder if needed and check that it can be written, with a message that says
 * why not. Folders are created one level at a time below the nearest existing one, which must be
 * a writable folder (mkdirSync's recursive mode can spin forever under /proc on Node 20).
 */
export function prepareOutputDir(dir: string): string {
  const resolved = path.resolve(dir);
  const fail = (reason: string): never => {
    throw new UserError(`cannot write to output folder ${resolved}: ${reason}`);
  };
  const missing: string[] = [];
  let existing = resolved;
  while (!existsSync(existing)) {
    missing.unshift(existing);
    existing = path.dirname(existing);
  }
  if (!statSync(existing).isDirectory()) fail(`${existing} is not a folder`);
  try {
    accessSync(existing, constants.W_OK);
    for (const level of missing) mkdirSync(level);
    accessSync(resolved, constants.W_OK);
  } catch (error) {
    fail((error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
  // Temporaries of an earlier run that was killed while writing; not those of a run still writing here.
  for (const name of readdirSync(resolved)) {
    const match = TEMPORARY.exec(name);
    if (match && !isRunning(Number(match[1]))) rmSync(path.join(resolved, name), { force: true });
  }
  return resolved;
}

/**
 * Check, before any work, that `file` can be written: its folder made and writable, and nothing at
 * the name that a write must not replace. Returns the resolved path.
 */
export function prepareOutputFile(file: string): string {
  const resolved = path.resolve(file);
  prepareOutputDir(path.dirname(resolved));
  const existing = notARegularFile(resolved);
  if (existing)
    throw new UserError(
      `refusing to write ${resolved}: it is ${existing}, and writing would replace it with a regular file; choose another output`,
    );
  return resolved;
}

/** An error caused by the user's input: the CLI prints its message without a stack trace. */
export class UserError extends Error {
  override name = "UserError";
}
