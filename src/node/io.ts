// File output for Node: every file is written to a temporary name and renamed into place, so an
// interrupted run (Ctrl-C, a crash) never leaves a half-written file under the real name. Ctrl-C
// keeps its default action (stop at once): a handler could not run anyway while a synchronous
// training loop or write holds the event loop. A temporary left by a kill mid-write is removed the
// next time the folder is prepared for output.
import { accessSync, constants, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PNG } from "pngjs";
import type { Image } from "../models/heatmap.js";

const TEMPORARY = /^\..+\.\d+\.[a-z0-9]+\.tmp$/;

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
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
  // Temporaries of an earlier run that was killed while writing.
  for (const name of readdirSync(resolved)) if (TEMPORARY.test(name)) rmSync(path.join(resolved, name), { force: true });
  return resolved;
}

/** An error caused by the user's input: the CLI prints its message without a stack trace. */
export class UserError extends Error {
  override name = "UserError";
}
