// One call per op (the Backend interface), built from a backend's host kernels and, where it has a
// device, its resident kernels: an op runs on the device when the device takes it (a resident
// kernel returns null to decline: too small to be worth it, too large to index), else on the
// host. Data movement runs on the device only when its input is already there. Device inputs of a
// host kernel are read back (a copy: the caller's device array stays as it was).

import { contiguousStrides, sizeOf } from "./strides.js";
import {
  type Backend,
  type DeviceArray,
  type DType,
  type HostKernels,
  isDeviceArray,
  type KernelInput,
  type ResidentKernels,
  type Shape,
  STATE_BUFFERS,
  type TypedArray,
} from "./types.js";

/** A host array of `dtype` holding x's values: a device array is read back (a copy; it is not freed). */
export function onHost(x: KernelInput, dtype: DType): TypedArray {
  if (!isDeviceArray(x)) return x;
  const values = x.read();
  return dtype === "float32" ? values : Float64Array.from(values);
}

/** Zeros of `dtype` on the host. */
export function hostArray(dtype: DType, n: number): TypedArray {
  return dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
}

/** A fresh host array of `dtype` filled by `fill`. */
function hostOutput(dtype: DType, n: number, fill: (out: TypedArray) => void): TypedArray {
  const out = hostArray(dtype, n);
  fill(out);
  return out;
}

const anyOnDevice = (...xs: KernelInput[]): boolean => xs.some(isDeviceArray);

export function backendFrom(parts: {
  name: string;
  host: HostKernels;
  resident?: ResidentKernels;
  run: Backend["run"];
}): Backend {
  const { host, resident: r } = parts;
  const h = onHost;

  /**
   * Pieces placed in zeros of outShape on the device; null if it declines. Each half of the pieces
   * is first joined in its own bounding box, then the two boxes are padded to outShape and added:
   * m adjacent pieces (a concat) cost O(size · log m), not O(size · m).
   */
  const placeOnDevice = (
    pieces: ReadonlyArray<{ x: KernelInput; shape: Shape; starts: Shape }>,
    outShape: Shape,
  ): DeviceArray | null => {
    if (!r?.pad || pieces.length === 0) return null;
    if (pieces.length === 1) return r.pad(pieces[0]!.x, pieces[0]!.shape, pieces[0]!.starts, outShape);
    const half = pieces.length >> 1;
    const boxes = [pieces.slice(0, half), pieces.slice(half)].map((part) => {
      const lo = outShape.map((_, d) => Math.min(...part.map((p) => p.starts[d]!)));
      const hi = outShape.map((_, d) => Math.max(...part.map((p) => p.starts[d]! + p.shape[d]!)));
      const shape = hi.map((h, d) => h - lo[d]!);
      const x =
        part.length === 1
          ? part[0]!.x
          : placeOnDevice(
              part.map((p) => ({ ...p, starts: p.starts.map((s, d) => s - lo[d]!) })),
              shape,
            );
      return { x, shape, starts: lo, owned: part.length > 1 };
    });
    const padded = boxes.map((b) => (b.x === null ? null : r.pad!(b.x, b.shape, b.starts, outShape)));
    for (const b of boxes) if (b.owned && b.x) (b.x as DeviceArray).release();
    const [left, right] = padded;
    const sum = left && right ? r.binary("add", left, outShape, right, outShape, outShape) : null;
    for (const p of padded) p?.release();
    return sum;
  };

  /**
   * Terms summed pairwise on the device, partial sums freed as they are used up (and the terms too
   * when they are this call's own); null if the device declines.
   */
  const sumOnDevice = (terms: readonly KernelInput[], shape: Shape, ownsTerms: boolean): DeviceArray | null => {
    const releaseTerms = () => {
      if (ownsTerms) for (const t of terms) if (isDeviceArray(t)) t.release();
    };
    let sum: KernelInput = terms[0]!;
    for (let k = 1; k < terms.length; k++) {
      const next: DeviceArray | null = r?.binary("add", sum, shape, terms[k]!, shape, shape) ?? null;
      if (k > 1) (sum as DeviceArray).release(); // a partial sum this call made
      if (!next) {
        releaseTerms();
        return null; // the backend's rule depends on the size only, so this happens at k = 1
      }
      sum = next;
    }
    if (terms.length > 1) releaseTerms();
    return isDeviceArray(sum) ? sum : null;
  };

  return {
    name: parts.name,
    host,
    ...(r ? { resident: r } : {}),
    keepsOnDevice: r !== undefined,
    run: parts.run,
    unary: (op, x, n, dtype) => r?.unary(op, x, n) ?? hostOutput(dtype, n, (o) => host.unary(op, h(x, dtype), o)),
    binary: (op, a, aShape, b, bShape, outShape, dtype) =>
      r?.binary(op, a, aShape, b, bShape, outShape) ??
      hostOutput(dtype, sizeOf(outShape), (o) =>
        host.binary(op, h(a, dtype), aShape, h(b, dtype), bShape, o, outShape),
      ),
    reduce: (op, x, outer, size, inner, dtype) =>
      r?.reduce(op, x, outer, size, inner) ??
      hostOutput(dtype, outer * inner, (o) => host.reduce(op, h(x, dtype), outer, size, inner, o)),
    matmul: (a, aOffsets, b, bOffsets, m, k, n, transA, transB, dtype) =>
      r?.matmul(a, aOffsets, b, bOffsets, m, k, n, transA, transB) ??
      hostOutput(dtype, aOffsets.length * m * n, (o) =>
        host.matmul(h(a, dtype), aOffsets, h(b, dtype), bOffsets, o, m, k, n, transA, transB),
      ),
    where: (cond, a, b, n, dtype) =>
      r?.where?.(cond, a, b, n) ?? hostOutput(dtype, n, (o) => host.where(h(cond, dtype), h(a, dtype), h(b, dtype), o)),
    stridedCopy: (src, offset, shape, strides, dtype) =>
      (anyOnDevice(src) ? r?.stridedCopy?.(src, offset, shape, strides) : null) ??
      hostOutput(dtype, sizeOf(shape), (o) => host.stridedCopy(h(src, dtype), offset, shape, strides, o)),
    place: (pieces, outShape, dtype) =>
      (pieces.some((p) => isDeviceArray(p.x)) ? placeOnDevice(pieces, outShape) : null) ??
      hostOutput(dtype, sizeOf(outShape), (o) => {
        const strides = contiguousStrides(outShape);
        for (const p of pieces) {
          const offset = p.starts.reduce((at, s, i) => at + s * strides[i]!, 0);
          host.stridedScatter(h(p.x, dtype), o, offset, p.shape, strides, false);
        }
      }),
    gather: (x, outer, size, inner, indices, dtype) =>
      (anyOnDevice(x) ? r?.gather?.(x, outer, size, inner, indices) : null) ??
      hostOutput(dtype, outer * indices.length * inner, (o) =>
        host.gather(h(x, dtype), outer, size, inner, indices, o),
      ),
    scatterAdd: (g, outer, size, inner, indices, dtype) =>
      (anyOnDevice(g) ? r?.scatterAdd?.(g, outer, size, inner, indices) : null) ??
      hostOutput(dtype, outer * size * inner, (o) => host.scatterAdd(h(g, dtype), outer, size, inner, indices, o)),
    addN: (terms, n, dtype) =>
      (terms.length > 1 && anyOnDevice(...terms) ? sumOnDevice(terms, [n], false) : null) ??
      hostOutput(dtype, n, (o) => {
        for (const t of terms) {
          const values = h(t, dtype);
          for (let i = 0; i < n; i++) o[i] += values[i]!;
        }
      }),
    update: (rule, x, g, state, dtype) => {
      const device = r?.update?.(rule, x, g, [...state]);
      if (device) return device;
      // On the host, in place: x and host state as they are; device values read back (state
      // that a device packed after the parameter, [x, s₀, s₁…], unpacked).
      const n = x.length,
        k = STATE_BUFFERS[rule.kind];
      const hx = h(x, dtype);
      const packed = state.length === 1 && state[0]!.length === (1 + k) * n;
      const hs = packed
        ? Array.from({ length: k }, (_, j) => h(state[0]!, dtype).slice((j + 1) * n, (j + 2) * n))
        : state.map((s) => (isDeviceArray(s) ? h(s, dtype) : s));
      host.update(rule, hx, h(g, dtype), hs);
      return [hx, ...hs];
    },
    logAbsDet: (a, n, d, dtype) =>
      r?.logAbsDet?.(a, n, d) ?? hostOutput(dtype, n, (o) => host.logAbsDet(h(a, dtype), n, d, o)),
  };
}
