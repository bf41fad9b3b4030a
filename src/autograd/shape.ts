import type { Shape } from "../kernels/index.js";

export { broadcastStrides, contiguousStrides, sizeOf } from "../kernels/index.js";

import { describe } from "./validate.js";

/** How shapes print in every error message: [2, 3]. */
export function shapeString(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** NumPy broadcasting: align trailing axes; each pair must be equal or contain a 1. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i,
        d = s[i]!;
      if (d === out[o] || d === 1) continue;
      if (out[o] !== 1) {
        throw new Error(
          `${op}: shapes ${shapes.map(shapeString).join(" and ")} cannot be broadcast together (axis ${o - rank}: ${out[o]} vs ${d})`,
        );
      }
      out[o] = d;
    }
  }
  return out;
}

/** An axis in [-rank, rank) as a non-negative index, or an error naming the op. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  if (typeof axis !== "number" || !Number.isInteger(axis))
    throw new Error(`${op}: an axis must be an integer, got ${describe(axis)}`);
  if (axis < -rank || axis >= rank) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Axes to reduce: undefined means all; result is sorted and free of duplicates. */
export function normalizeAxes(op: string, axis: number | readonly number[] | undefined, rank: number): number[] {
  if (axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  if (typeof axis !== "number" && !Array.isArray(axis))
    throw new Error(`${op}: axis must be an integer or a list of integers, got ${describe(axis)}`);
  const list = typeof axis === "number" ? [axis] : axis;
  const axes = list.map((a) => normalizeAxis(op, a, rank));
  if (new Set(axes).size !== axes.length) throw new Error(`${op}: repeated axis in [${list.join(", ")}]`);
  return axes.sort((a, b) => a - b);
}

/** One axis or several, negative counting from the end (−1 is the last). */
export type Axis = number | readonly number[];
