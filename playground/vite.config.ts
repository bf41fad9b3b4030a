import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const ISOLATED = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };

// The playground: a static page built from ../src. `npm run playground` serves it,
// `npm run build:playground` writes it to dist-playground/ (publishable as is).
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  // gpu.js alone is a 630 kB chunk, loaded only when a GPU backend is picked.
  build: {
    outDir: fileURLToPath(new URL("../dist-playground", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 700,
  },
  // Cross-origin isolation (a shared WebAssembly memory) lets the CPU backend's products use Web
  // Workers; a host serving dist-playground/ needs the same two headers for threads.
  server: { port: 5173, headers: ISOLATED },
  preview: { headers: ISOLATED },
});
