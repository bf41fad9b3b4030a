// Ctrl-C: stop at once and say what was and was not saved. Files are written only when a piece of
// work finishes (atomically, src/node/io.ts), so an interrupted run leaves nothing half-written;
// the training loops yield to the event loop often enough for this handler to run (models/loop.ts).

import { filesWritten } from "../node/io.js";
import { activeTask } from "./progress.js";

export function exitOnInterrupt(): void {
  process.once("SIGINT", () => {
    const task = activeTask();
    const where = task
      ? ` during ${task.label} (${task.total === 1 ? `${Math.round(100 * task.done)}%` : `${Math.round(task.done)} of ${task.total}`})`
      : "";
    const saved = filesWritten();
    process.stderr.write(
      `\nflowgrad: interrupted${where}: the work in progress was not saved (a file is written only when its work finishes).\n` +
        (saved.length > 0
          ? `Saved before the interruption:\n${saved.map((f) => `  ${f}\n`).join("")}`
          : "Nothing was saved: no file was written.\n"),
    );
    process.exit(130); // 128 + SIGINT, as a shell reports a process stopped by Ctrl-C
  });
}
