// Saving and loading trained models: parameters plus a manifest with the configuration, in one
// JSON file written atomically and validated on load.
import { readFileSync } from "node:fs";
import { Random } from "../autograd/index.js";
import type { FlowDistribution } from "../flows/index.js";
import { type CNF2DOptions, type Flow2DKind, makeFlow2D, TARGETS, type TargetName } from "../models/index.js";
import { DEFAULT_VAE, FlowVAE, type VAEConfig } from "../models/vae.js";
import { UserError, writeJsonAtomic } from "./io.js";

export interface VAEFile {
  manifest: { kind: "flowgrad.vae"; version: 1; config: VAEConfig; [extra: string]: unknown };
  parameters: ReturnType<FlowVAE["stateDict"]>;
}

export function saveVAE(file: string, model: FlowVAE, extra: Record<string, unknown> = {}): void {
  const content: VAEFile = {
    manifest: { ...extra, kind: "flowgrad.vae", version: 1, config: model.config },
    parameters: model.stateDict(),
  };
  writeJsonAtomic(file, content);
}

/** A 2-D fit's model file (written by `flowgrad fit`): its q rebuilt and its parameters loaded, validated. */
export function loadFlow2D(file: string): { q: FlowDistribution; target: TargetName; flow: Flow2DKind; K: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new UserError(
      `cannot read model file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  const m = (parsed as { manifest?: Record<string, unknown> } | null)?.manifest;
  if (
    m?.kind !== "flowgrad.flow2d" ||
    !TARGETS.includes(m.target as TargetName) ||
    !["planar", "radial", "nice", "cnf", "hamiltonian"].includes(m.flow as string) ||
    !Number.isInteger(m.K) ||
    (m.K as number) < 1
  ) {
    throw new UserError(
      `${file} is not a flowgrad 2-D fit model file (expected manifest kind "flowgrad.flow2d" with a target U1–U4, a flow and K)`,
    );
  }
  const [target, flow, K] = [m.target as TargetName, m.flow as Flow2DKind, m.K as number];
  try {
    const q = makeFlow2D(flow, K, new Random(0), "fused", (m.cnf ?? {}) as CNF2DOptions, target);
    const parameters = (parsed as { parameters?: unknown }).parameters;
    q.loadStateDict(flow === "planar" ? stackPlanarLayers(parameters, K) : parameters);
    return { q, target, flow, K };
  } catch (error) {
    throw new UserError(`${file}: ${(error as Error).message}`);
  }
}

export function loadVAE(file: string): FlowVAE {
  return loadVAEFile(file).model;
}

/** Throw unless a loaded model takes inputs of the size of the data it is about to be used with. */
export function checkModelInputs(file: string, model: FlowVAE, inputs: number, what: string): void {
  if (model.config.inputs !== inputs) {
    throw new UserError(
      `${file}: the model was trained on inputs of ${model.config.inputs} values, but ${what} has ${inputs}; it cannot be used here`,
    );
  }
}

/** The model and its manifest (configuration plus what saveVAE was given), validated. */
export function loadVAEFile(file: string): { model: FlowVAE; manifest: VAEFile["manifest"] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new UserError(
      `cannot read model file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UserError(
      `${file} is not a flowgrad VAE model file: its content is ${parsed === null ? "null" : Array.isArray(parsed) ? "an array" : `a ${typeof parsed}`}, not an object with a manifest and parameters`,
    );
  }
  const content = parsed as Partial<VAEFile>;
  const m = content.manifest;
  if (m?.kind !== "flowgrad.vae" || m.version !== 1 || typeof m.config !== "object" || m.config === null) {
    throw new UserError(`${file} is not a flowgrad VAE model file (expected manifest kind "flowgrad.vae", version 1)`);
  }
  const config = m.config as Partial<VAEConfig>;
  const unknown = Object.keys(config).filter((k) => !(k in DEFAULT_VAE));
  if (unknown.length) throw new UserError(`${file}: unknown configuration fields ${unknown.join(", ")}`);
  let model: FlowVAE;
  try {
    model = new FlowVAE(config);
  } catch (error) {
    throw new UserError(`${file}: invalid configuration: ${(error as Error).message}`);
  }
  try {
    model.loadStateDict(splitCombinedHead(content.parameters, model));
  } catch (error) {
    throw new UserError(`${file}: ${(error as Error).message}`);
  }
  return { model, manifest: m };
}

type SavedParameter = { shape: number[]; dtype: string; data: number[] };

/**
 * Planar fits saved before the K layers became one PlanarChain hold "flow.k.u", "flow.k.w" and
 * "flow.k.b" per layer: stack them into the chain's rows "flow.u", "flow.w" ([K, 2]) and "flow.b".
 */
function stackPlanarLayers(parameters: unknown, K: number): unknown {
  const saved = (parameters as { parameters?: Record<string, SavedParameter> } | null)?.parameters;
  if (!saved || "flow.u" in saved || !("flow.0.u" in saved)) return parameters;
  const rest = Object.fromEntries(Object.entries(saved).filter(([n]) => !/^flow\.\d+\.[uwb]$/.test(n)));
  const layer = (k: number, key: string) => saved[`flow.${k}.${key}`];
  const stacked = (key: string, shape: number[]) => {
    const rows = Array.from({ length: K }, (_, k) => layer(k, key)?.data ?? []);
    return { shape, dtype: layer(0, key)?.dtype ?? "float64", data: rows.flat() };
  };
  const d = layer(0, "u")?.data?.length ?? 0;
  return {
    ...(parameters as object),
    parameters: {
      ...rest,
      "flow.u": stacked("u", [K, d]),
      "flow.w": stacked("w", [K, d]),
      "flow.b": stacked("b", [K]),
    },
  };
}

/**
 * Files saved before the flow parameters had a head of their own kept them as the last columns of
 * "head" ([hidden, 2·latent + F]); split those columns into "flowParamsHead" so the file still loads.
 */
function splitCombinedHead(parameters: unknown, model: FlowVAE): unknown {
  const saved = (parameters as { parameters?: Record<string, SavedParameter> } | null)?.parameters;
  const flow = model.flowParamsHead;
  const weight = saved?.["head.weight"],
    bias = saved?.["head.bias"];
  if (!flow || !saved || "flowParamsHead.weight" in saved || !weight?.data || !bias?.data) return parameters;
  const rows = model.config.hidden,
    gauss = model.head.outFeatures,
    width = gauss + flow.outFeatures;
  if (weight.shape?.join() !== `${rows},${width}` || bias.shape?.join() !== `${width}`) return parameters;
  const columns = (data: number[], from: number, to: number, n: number) =>
    Array.from({ length: n }, (_, r) => data.slice(r * width + from, r * width + to)).flat();
  const part = (shape: number[], data: number[]) => ({ shape, dtype: weight.dtype, data });
  return {
    ...(parameters as object),
    parameters: {
      ...saved,
      "head.weight": part([rows, gauss], columns(weight.data, 0, gauss, rows)),
      "head.bias": part([gauss], bias.data.slice(0, gauss)),
      "flowParamsHead.weight": part([rows, width - gauss], columns(weight.data, gauss, width, rows)),
      "flowParamsHead.bias": part([width - gauss], bias.data.slice(gauss)),
    },
  };
}
