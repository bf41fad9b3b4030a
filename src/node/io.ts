// File output for Node: every file is written to a temporary name and renamed into place, so an
// interrupted run (Ctrl-C, a crash) never leaves a half-written file under the real name.
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PNG } from "pngjs";
import type { Image } from "../models/heatmap.js";

const pendingTemporaries = new Set<string>();
let interruptHandlerInstalled = false;

/** On Ctrl-C, delete temporary files still being written, then exit with the usual status 130. */
function installInterruptHandler(): void {
  if (interruptHandlerInstalled) return;
  interruptHandlerInstalled = true;
  process.once("SIGINT", () => {
    for (const tmp of pendingTemporaries) rmSync(tmp, { force: true });
    process.stderr.write("\ninterrupted: no partial files were left\n");
    process.exit(130);
  });
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  installInterruptHandler();
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  pendingTemporaries.add(tmp);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  } finally {
    pendingTemporaries.delete(tmp);
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n");
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
  return resolved;
}

/** An error caused by the user's input: the CLI prints its message without a stack trace. */
export class UserError extends Error {
  override name = "UserError";
}
