// What the JavaScript runtime offers where it may be absent (a browser has no process): this
// layer's environment variables and Node's built-in modules, read without importing node:* so a
// bundle for the web never pulls them in.

type NodeProcess = { env?: Record<string, string | undefined>; getBuiltinModule?: (id: string) => unknown };
const nodeProcess = (): NodeProcess | undefined => (globalThis as { process?: NodeProcess }).process;

/** An environment variable, or undefined (also where there is no environment). */
export function env(name: string): string | undefined {
  return nodeProcess()?.env?.[name];
}

/** A Node built-in module (Node 20.16+), or undefined where the runtime has none. */
export function builtinModule<T>(id: string): T | undefined {
  return nodeProcess()?.getBuiltinModule?.(id) as T | undefined;
}
