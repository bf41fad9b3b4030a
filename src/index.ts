/** flowgrad: everything. Import a subpath (flowgrad/autograd, …) to load less. */
export * from "./autograd/index.js";
export * from "./flows/index.js";
export * as kernels from "./kernels/index.js";
export * from "./models/index.js";
