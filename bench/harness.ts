// A thin layer over benchmark.js: run cases, print a markdown table, write JSON with the environment.

import { execSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Benchmark from "benchmark";
import { writeFileAtomic, writeJsonAtomic } from "../src/node/io.js";

interface CaseBase {
  name: string;
  /** Floating-point operations per call, for GFLOP/s. */
  flops?: number;
  /** Elements processed per call, for M elements/s. */
  elements?: number;
  /** Bytes read and written per call (the host arrays given and returned), for GB/s. */
  bytes?: number;
  /** Seconds to sample this case (overrides the suite's maxTime), for headline numbers. */
  maxTime?: number;
}

/** A timed call: fn, or asyncFn for work that finishes asynchronously (a WebGPU read-back), timed until it resolves. */
export type Case = CaseBase &
  ({ fn: () => void; asyncFn?: undefined } | { asyncFn: () => Promise<void>; fn?: undefined });

export interface Row {
  name: string;
  meanMs: number;
  rmePercent: number;
  samples: number;
  opsPerSec: number;
  gflops?: number;
  melemsPerSec?: number;
  gbPerSec?: number;
}

export function environment(): Record<string, string> {
  let commit = "unknown";
  try {
    commit = execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    // not a git checkout
  }
  return {
    node: process.version,
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: String(os.cpus().length),
    platform: `${os.platform()} ${os.arch()}`,
    date: new Date().toISOString(),
    commit,
  };
}

function toRow(c: Case, bench: Benchmark): Row {
  const err = (bench as unknown as { error?: Error }).error;
  if (err) throw new Error(`benchmark "${c.name}" failed: ${err.message}`);
  const mean = bench.stats.mean;
  const row: Row = {
    name: c.name,
    meanMs: mean * 1e3,
    rmePercent: bench.stats.rme,
    samples: bench.stats.sample.length,
    opsPerSec: 1 / mean,
  };
  if (c.flops) row.gflops = c.flops / mean / 1e9;
  if (c.elements) row.melemsPerSec = c.elements / mean / 1e6;
  if (c.bytes) row.gbPerSec = c.bytes / mean / 1e9;
  process.stderr.write(
    `  ${c.name}: ${row.meanMs.toFixed(3)} ms ±${row.rmePercent.toFixed(1)}% (${row.samples} samples)\n`,
  );
  return row;
}

/**
 * Median milliseconds of calls to `fn`, after three warm-up calls, over about `budgetMs`: at least
 * `minCalls`, at most `maxCalls` (for timings too short for benchmark.js's per-sample overhead).
 */
export function medianTime(fn: () => void, budgetMs: number, minCalls: number, maxCalls: number): number {
  for (let i = 0; i < 3; i++) fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minCalls || (performance.now() - start < budgetMs && times.length < maxCalls)) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  times.sort((x, y) => x - y);
  return times[times.length >> 1]!;
}

/** `size` values in [−scale/2, scale/2) of the dtype. */
export function randomArray(dtype: "float64" | "float32", size: number, scale = 1): Float64Array | Float32Array {
  const x = dtype === "float64" ? new Float64Array(size) : new Float32Array(size);
  for (let i = 0; i < size; i++) x[i] = scale * (Math.random() - 0.5);
  return x;
}

/** Run the cases one after another (benchmark.js picks the sample count; maxTime bounds each case). */
export function runCases(cases: Case[], maxTime: number): Row[] {
  return cases.map((c) => {
    if (!c.fn) throw new Error(`benchmark "${c.name}" is asynchronous: run it with runCasesAsync`);
    const bench = new Benchmark(c.name, c.fn, { maxTime: c.maxTime ?? maxTime, minSamples: 5 });
    bench.run();
    return toRow(c, bench);
  });
}

/** A byte count as KiB below a MiB, else MiB (one decimal). */
export function formatBytes(bytes: number): string {
  return bytes < 2 ** 20 ? `${(bytes / 2 ** 10).toFixed(1)} KiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** runCases for suites with asynchronous cases (benchmark.js deferred benchmarks: each call is timed until it resolves). */
export async function runCasesAsync(cases: Case[], maxTime: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (const c of cases) {
    const asyncFn = c.asyncFn;
    if (asyncFn) await asyncFn(); // once untimed: kernels compile on first use
    const bench = asyncFn
      ? new Benchmark(c.name, {
          defer: true,
          maxTime: c.maxTime ?? maxTime,
          minSamples: 5,
          fn: (deferred: { resolve(): void; benchmark: { abort(): void; error?: unknown } }) => {
            asyncFn().then(
              () => deferred.resolve(),
              (error: unknown) => {
                deferred.benchmark.error = error;
                deferred.benchmark.abort();
                deferred.resolve();
              },
            );
          },
        })
      : new Benchmark(c.name, c.fn!, { maxTime: c.maxTime ?? maxTime, minSamples: 5 });
    await new Promise<void>((resolve) => {
      bench
        .on("complete", () => resolve())
        .on("abort", () => resolve())
        .run({ async: true });
    });
    rows.push(toRow(c, bench));
  }
  return rows;
}

export function markdownTable(rows: Row[]): string {
  // A GB/s column only for suites that count bytes.
  const gb = rows.some((r) => r.gbPerSec !== undefined);
  const lines = [
    `| case | mean | ±rme | samples | ops/s | GFLOP/s | M elem/s |${gb ? " GB/s |" : ""}`,
    `|---|---:|---:|---:|---:|---:|---:|${gb ? "---:|" : ""}`,
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${formatMs(r.meanMs)} | ${r.rmePercent.toFixed(1)}% | ${r.samples} | ${r.opsPerSec.toFixed(1)} | ${r.gflops?.toFixed(2) ?? ""} | ${r.melemsPerSec?.toFixed(r.melemsPerSec < 10 ? 2 : 0) ?? ""} |${gb ? ` ${r.gbPerSec?.toFixed(2) ?? ""} |` : ""}`,
    );
  }
  return lines.join("\n");
}

function formatMs(ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} µs`;
}

/** Write a result file atomically (a temporary file renamed into place), creating its folder. */
export function writeResult(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  if (typeof value === "string") writeFileAtomic(file, value);
  else writeJsonAtomic(file, value);
}
