// The CPU backend's WebAssembly module: every kernel in one binary, one memory.
export * from "./matmul";
export * from "./optim";
