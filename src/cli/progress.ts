import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, info?: string): void;
  stop(): void;
}

/**
 * A progress bar with ETA on a terminal; where stderr is not a terminal (CI, a log file), one line
 * every 10% and at least once a minute instead, so logs stay readable and never go quiet.
 */
let active: { label: string; done: number; total: number } | null = null;

/** The task whose bar is showing, and how far it got: what an interruption cut short. */
export function activeTask(): { label: string; done: number; total: number } | null {
  return active;
}

/** Without a terminal, the longest wait between two progress lines. */
export const LINE_EVERY_MS = 60_000;

export function progress(label: string, total: number): Progress {
  const task = { label, done: 0, total };
  active = task;
  const track = (bar: Progress): Progress => ({
    update: (done, info) => {
      task.done = done;
      bar.update(done, info);
    },
    stop: () => {
      if (active === task) active = null;
      bar.stop();
    },
  });
  return track(bar(label, total));
}

function bar(label: string, total: number): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(22)} [{bar}] {percentage}% | ETA {eta_formatted} | {info}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 200,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { info: "" });
    return { update: (done, info = "") => bar.update(done, { info }), stop: () => bar.stop() };
  }
  const started = Date.now();
  let nextTenth = 1,
    lastLine = started;
  return {
    update: (done, info = "") => {
      // A line at every tenth, and at least once a minute: a run whose total is an upper bound
      // (vae --epochs 2000 with early stopping) may never reach its first tenth.
      if (done >= (nextTenth * total) / 10 || Date.now() - lastLine >= LINE_EVERY_MS) {
        lastLine = Date.now();
        const elapsed = (Date.now() - started) / 1000,
          eta = done > 0 ? (elapsed * (total - done)) / done : 0;
        process.stderr.write(
          `${label}: ${Math.round((100 * done) / total)}% (${elapsed.toFixed(0)} s, ETA ${eta.toFixed(0)} s) ${info}\n`,
        );
        while (done >= (nextTenth * total) / 10) nextTenth++;
      }
    },
    stop: () => {},
  };
}
