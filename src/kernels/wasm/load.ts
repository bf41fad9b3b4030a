// Loading the WebAssembly kernels: decode the embedded binary, compile it, and give it a memory.
// Compiled synchronously where the runtime allows (Node; small modules in browsers), else in the
// background, with the TypeScript loops running until it is ready. A runtime without WebAssembly
// SIMD cannot compile it at all: the CPU backend then keeps its TypeScript loops and says so once.

import { MAXIMUM_PAGES, PLAIN_WASM, SHARED_WASM } from "./modules.generated.js";

/** The compiled products (assembly/matmul.ts). Pointers are byte addresses in `memory`. */
export interface GemmExports {
  scratchBytes(): number;
  gemmF64(...args: number[]): void;
  gemmF32(...args: number[]): void;
}

/** The compiled optimizer updates (assembly/optim.ts): x, g and two state arrays, n values, then the rule's constants. */
export interface OptimExports {
  adamF64(x: number, g: number, m: number, v: number, n: number, ...constants: number[]): void;
  adamF32(x: number, g: number, m: number, v: number, n: number, ...constants: number[]): void;
  rmspropF64(x: number, g: number, s: number, b: number, n: number, ...constants: number[]): void;
  rmspropF32(x: number, g: number, s: number, b: number, n: number, ...constants: number[]): void;
}

export interface WasmKernels {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  exports: GemmExports & OptimExports;
  /** The memory is a SharedArrayBuffer, so worker threads can run the same kernels on it. */
  shared: boolean;
}

/** Bytes below this belong to the module itself (AssemblyScript's stack and data); ours start here. */
export const RESERVED_BYTES = 1 << 16;
const PAGE = 1 << 16;

let loaded: WasmKernels | null = null;
let unavailable: string | null = null;
let pending: Promise<WasmKernels | null> | null = null;

function bytesOf(base64: string): Uint8Array {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Shared memory needs SharedArrayBuffer: always in Node, only cross-origin isolated in a browser. */
function canShare(): boolean {
  const g = globalThis as { crossOriginIsolated?: boolean; process?: unknown };
  return typeof SharedArrayBuffer !== "undefined" && (g.process !== undefined || g.crossOriginIsolated === true);
}

function instantiate(module: WebAssembly.Module, shared: boolean): WasmKernels {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: MAXIMUM_PAGES, shared });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return { module, memory, exports: instance.exports as unknown as GemmExports & OptimExports, shared };
}

/**
 * The kernels, or null while they cannot run: not compiled yet (a browser compiling in the
 * background), or unavailable (unavailableReason() says why).
 */
export function wasmKernels(): WasmKernels | null {
  if (loaded || unavailable !== null || pending) return loaded;
  const shared = canShare();
  let bytes: Uint8Array;
  try {
    if (typeof WebAssembly === "undefined") throw new Error("this runtime has no WebAssembly");
    bytes = bytesOf(shared ? SHARED_WASM : PLAIN_WASM);
  } catch (e) {
    unavailable = (e as Error).message;
    return null;
  }
  try {
    loaded = instantiate(new WebAssembly.Module(bytes as BufferSource), shared);
  } catch (e) {
    if (e instanceof WebAssembly.CompileError) {
      unavailable = `this runtime cannot compile the WebAssembly SIMD kernels (${e.message})`;
      return null;
    }
    // A browser's main thread refuses to compile synchronously: compile in the background.
    pending = WebAssembly.compile(bytes as BufferSource).then(
      (module) => (loaded = instantiate(module, shared)),
      (err: Error) => {
        unavailable = `this runtime cannot compile the WebAssembly SIMD kernels (${err.message})`;
        return null;
      },
    );
  }
  return loaded;
}

let unshared: WasmKernels | null = null;
let compilingUnshared: Promise<void> | null = null;

/**
 * The kernels on an unshared memory, for work that runs on the caller's thread alone: V8 copies a
 * typed array into a SharedArrayBuffer element by element (~7× slower than into an ArrayBuffer),
 * and every kernel call copies its operands in. The shared instance where the kernels are already
 * unshared, or where a second module cannot be compiled synchronously; null as wasmKernels().
 */
export function unsharedKernels(): WasmKernels | null {
  const kernels = wasmKernels();
  if (!kernels?.shared) return kernels;
  if (!unshared && !compilingUnshared) {
    const bytes = bytesOf(PLAIN_WASM) as BufferSource;
    try {
      unshared = instantiate(new WebAssembly.Module(bytes), false);
    } catch {
      // A browser's main thread refuses to compile synchronously: the shared instance until this is ready.
      compilingUnshared = WebAssembly.compile(bytes).then(
        (module) => {
          unshared = instantiate(module, false);
        },
        () => {
          unshared = kernels;
        },
      );
    }
  }
  return unshared ?? kernels;
}

/** Resolves when the kernels are ready (or known to be unavailable): for a page that wants them from its first product. */
export async function wasmReady(): Promise<boolean> {
  wasmKernels();
  if (pending) await pending;
  return loaded !== null;
}

/** Why the kernels cannot run here, or null if they can (or may still). */
export function unavailableReason(): string | null {
  return unavailable;
}

/** The memory's bytes, grown to at least `bytes`; null if that is more than it may hold. */
export function ensureBytes(kernels: WasmKernels, bytes: number): ArrayBufferLike | null {
  const have = kernels.memory.buffer.byteLength;
  if (bytes > have) {
    const pages = Math.ceil((bytes - have) / PAGE);
    if (have / PAGE + pages > MAXIMUM_PAGES) return null;
    kernels.memory.grow(pages);
  }
  return kernels.memory.buffer;
}
