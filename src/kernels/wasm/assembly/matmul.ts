// The CPU backend's fast matrix product, in AssemblyScript.
//
// Why AssemblyScript: it is TypeScript's syntax over WebAssembly's own types (f64, usize, v128), so a
// reader who knows ../../cpu/matmul.ts can read this file, and asc (an npm package) compiles it from
// source in `npm run build` with no download. Hand-written WAT would be as fast but unreadable.
//
// The method is the packed GEMM of GotoBLAS/BLIS: copy a block of op(B) (KC × NC) and a strip of MR
// rows of op(A) (MR × KC) into contiguous scratch, then a micro-kernel keeps an MR × NR tile of C in
// eight 128-bit registers while it walks the block's depth. Packing is also where the transposes go:
// op(A)[i, p] = a[i·ais + p·aps] and op(B)[p, j] = b[p·bps + j·bjs], so Aᵀ and Bᵀ cost nothing extra.
//
// Every element of C is summed in plain k order, one multiply and one add per term (WebAssembly has
// no fused multiply-add here), whichever rows a thread is given: so results are bit-identical for
// any thread count and any row split, and equal to a loop `c += a[i,p] * b[p,j]` for p = 0, 1, ….

// Rows of C per micro-tile; the columns per tile are two v128 of T: 4 for float64, 8 for float32.
const MR: i32 = 4;
// Depth of one packed block: 256 × 32 bytes of op(B) per panel stays in L1 beside A's strip.
const KC: i32 = 256;
// Columns of one packed block of op(B): KC × NC × 8 bytes = 512 KiB of float64, meant for L2.
const NC: i32 = 256;

/** Bytes of scratch one thread needs (pack buffers and an edge tile), for the JS side to lay out. */
export function scratchBytes(): i32 {
  return MR * KC * 8 + MR * 32 + KC * NC * 8;
}

/** C[row0..row1) = op(A) op(B) in float64, C row-major m × n at c; pointers are byte addresses. */
export function gemmF64(
  a: usize, ais: i32, aps: i32,
  b: usize, bps: i32, bjs: i32,
  c: usize, k: i32, n: i32,
  row0: i32, row1: i32, scratch: usize,
): void {
  gemm<f64>(a, ais, aps, b, bps, bjs, c, k, n, row0, row1, scratch);
}

/** The same in float32 (four lanes per v128, so eight columns per tile). */
export function gemmF32(
  a: usize, ais: i32, aps: i32,
  b: usize, bps: i32, bjs: i32,
  c: usize, k: i32, n: i32,
  row0: i32, row1: i32, scratch: usize,
): void {
  gemm<f32>(a, ais, aps, b, bps, bjs, c, k, n, row0, row1, scratch);
}

function gemm<T>(
  a: usize, ais: i32, aps: i32,
  b: usize, bps: i32, bjs: i32,
  c: usize, k: i32, n: i32,
  row0: i32, row1: i32, scratch: usize,
): void {
  const size = <i32>sizeof<T>();
  const nr = 32 / size;
  const packA = scratch;
  const tile = packA + <usize>(MR * KC * size);
  const packB = tile + <usize>(MR * 32);
  if (k == 0) {
    // An empty sum: C is zero (the loops below would leave it untouched).
    memory.fill(c + <usize>(row0 * n * size), 0, <usize>((row1 - row0) * n * size));
    return;
  }
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const first = pc == 0;
      packB_<T>(b + <usize>((pc * bps + jc * bjs) * size), bps, bjs, kc, nc, packB);
      for (let i = row0; i < row1; i += MR) {
        const mr = min(MR, row1 - i);
        packA_<T>(a + <usize>((i * ais + pc * aps) * size), ais, aps, mr, kc, packA);
        for (let jr = 0; jr < nc; jr += nr) {
          const w = min(nr, nc - jr);
          const cp = c + <usize>((i * n + jc + jr) * size);
          const bp = packB + <usize>(jr * kc * size);
          if (mr == MR && w == nr) {
            micro<T>(packA, bp, kc, cp, <usize>(n * size), first);
          } else {
            // An edge tile runs the same micro-kernel on a full-size copy, so its sums are the same.
            edge<T>(packA, bp, kc, cp, n, mr, w, first, tile);
          }
        }
      }
    }
  }
}

/** op(B)[0..kc, 0..nc) into panels of nr columns, each kc × nr contiguous; missing columns are zero. */
// @ts-expect-error: decorator
@inline
function packB_<T>(b: usize, bps: i32, bjs: i32, kc: i32, nc: i32, dst: usize): void {
  const size = <i32>sizeof<T>();
  const nr = 32 / size;
  for (let jr = 0; jr < nc; jr += nr) {
    const w = min(nr, nc - jr);
    if (bjs == 1 && w == nr) {
      // Rows of B are contiguous: two vector loads per row of the panel.
      let src = b + <usize>(jr * size);
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        src += <usize>(bps * size);
        dst += 32;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let q = 0; q < nr; q++) {
          const v: T = q < w ? load<T>(b + <usize>((p * bps + (jr + q) * bjs) * size)) : <T>0;
          store<T>(dst + <usize>(q * size), v);
        }
        dst += 32;
      }
    }
  }
}

/** op(A)[0..mr, 0..kc) as kc groups of MR values (one per row); missing rows are zero. */
// @ts-expect-error: decorator
@inline
function packA_<T>(a: usize, ais: i32, aps: i32, mr: i32, kc: i32, dst: usize): void {
  const size = <i32>sizeof<T>();
  for (let p = 0; p < kc; p++) {
    for (let r = 0; r < MR; r++) {
      const v: T = r < mr ? load<T>(a + <usize>((r * ais + p * aps) * size)) : <T>0;
      store<T>(dst + <usize>((p * MR + r) * size), v);
    }
  }
}

/**
 * The inner loop: an MR × nr tile of C in eight v128 accumulators; per step of depth, two loads
 * of B's panel row, four broadcasts of A's column, eight multiplies and eight adds.
 * `first`: start from zero (the first depth block); otherwise continue from C's partial sums.
 */
// @ts-expect-error: decorator
@inline
function micro<T>(ap: usize, bp: usize, kc: i32, cp: usize, ldc: usize, first: bool): void {
  const size = <usize>sizeof<T>();
  const zero = v128.splat<T>(<T>0);
  let c00 = zero, c01 = zero, c10 = zero, c11 = zero;
  let c20 = zero, c21 = zero, c30 = zero, c31 = zero;
  if (!first) {
    c00 = v128.load(cp); c01 = v128.load(cp, 16);
    c10 = v128.load(cp + ldc); c11 = v128.load(cp + ldc, 16);
    c20 = v128.load(cp + 2 * ldc); c21 = v128.load(cp + 2 * ldc, 16);
    c30 = v128.load(cp + 3 * ldc); c31 = v128.load(cp + 3 * ldc, 16);
  }
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let x = v128.splat<T>(load<T>(ap));
    c00 = v128.add<T>(c00, v128.mul<T>(x, b0));
    c01 = v128.add<T>(c01, v128.mul<T>(x, b1));
    x = v128.splat<T>(load<T>(ap + size));
    c10 = v128.add<T>(c10, v128.mul<T>(x, b0));
    c11 = v128.add<T>(c11, v128.mul<T>(x, b1));
    x = v128.splat<T>(load<T>(ap + 2 * size));
    c20 = v128.add<T>(c20, v128.mul<T>(x, b0));
    c21 = v128.add<T>(c21, v128.mul<T>(x, b1));
    x = v128.splat<T>(load<T>(ap + 3 * size));
    c30 = v128.add<T>(c30, v128.mul<T>(x, b0));
    c31 = v128.add<T>(c31, v128.mul<T>(x, b1));
    ap += 4 * size;
    bp += 32;
  }
  v128.store(cp, c00); v128.store(cp, c01, 16);
  v128.store(cp + ldc, c10); v128.store(cp + ldc, c11, 16);
  v128.store(cp + 2 * ldc, c20); v128.store(cp + 2 * ldc, c21, 16);
  v128.store(cp + 3 * ldc, c30); v128.store(cp + 3 * ldc, c31, 16);
}

/** A tile cut by C's last rows or columns: copy in what exists, run the full tile, copy back. */
function edge<T>(ap: usize, bp: usize, kc: i32, cp: usize, n: i32, mr: i32, w: i32, first: bool, tile: usize): void {
  const size = <i32>sizeof<T>();
  if (!first) {
    memory.fill(tile, 0, <usize>(MR * 32));
    for (let r = 0; r < mr; r++) memory.copy(tile + <usize>(r * 32), cp + <usize>(r * n * size), <usize>(w * size));
  }
  micro<T>(ap, bp, kc, tile, 32, first);
  for (let r = 0; r < mr; r++) memory.copy(cp + <usize>(r * n * size), tile + <usize>(r * 32), <usize>(w * size));
  // Columns past w were computed from the zero padding and are dropped.
}
