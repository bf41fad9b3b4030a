import { type BinaryOp, getBackend, type KernelInput, type UnaryOp } from "../../kernels/index.js";
import { broadcastShapes, sameShape, shapeString, sizeOf } from "../shape.js";
import { allocate, expectTensor, fromOp, kernelOutput, Tensor, type TensorLike } from "../tensor.js";
import { checkDType, checkList } from "../validate.js";
import { broadcastTo } from "./movement.js";

// Each op: its forward is a backend kernel (math in kernels/elementwise.ts), its backward a rule
// of one line. Broadcast inputs get gradients of the output's shape; the backward pass sums them back.

function unaryOp(op: UnaryOp, x: Tensor, rule: ((g: Tensor, x: Tensor, y: Tensor) => Tensor) | null): Tensor {
  if (!(x instanceof Tensor)) expectTensor(op, x);
  const out = getBackend().unary(op, x.storage.kernelInput, x.size, x.dtype);
  return fromOp(op, kernelOutput(out, x.dtype), x.shape, [x], rule && ((g, y) => [rule(g, x, y)]));
}

/** A plain number becomes a scalar tensor of the other operand's dtype; two tensors must share one. */
export function asTensor(op: string, value: TensorLike, like: Tensor): Tensor {
  if (typeof value === "number") return new Tensor(allocate(like.dtype, 1).fill(value), []);
  if (!(value instanceof Tensor)) throw new Error(`${op}: expected a Tensor or a number, got ${typeof value}`);
  if (value.dtype !== like.dtype) {
    throw new Error(
      `${op}: dtype mismatch, ${like.dtype} ${shapeString(like.shape)} and ${value.dtype} ${shapeString(value.shape)}; convert one with astype()`,
    );
  }
  return value;
}

function binaryOp(
  op: BinaryOp,
  aIn: TensorLike,
  bIn: TensorLike,
  rule: ((g: Tensor, a: Tensor, b: Tensor, y: Tensor) => [Tensor | null, Tensor | null]) | null,
): Tensor {
  const first = aIn instanceof Tensor ? aIn : bIn;
  if (!(first instanceof Tensor)) throw new Error(`${op}: at least one operand must be a Tensor`);
  const a = asTensor(op, aIn, first),
    b = asTensor(op, bIn, first);
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(op, a.shape, b.shape);
  const out = getBackend().binary(op, a.storage.kernelInput, a.shape, b.storage.kernelInput, b.shape, shape, a.dtype);
  return fromOp(op, kernelOutput(out, a.dtype), shape, [a, b], rule && ((g, y) => rule(g, a, b, y)));
}

// d(a + b) = da + db
export const add = (a: TensorLike, b: TensorLike): Tensor => binaryOp("add", a, b, (g) => [g, g]);
/** Σ of tensors of one shape in one op (a chain of adds would record one node per term). */
export function addN(terms: readonly Tensor[]): Tensor {
  checkList("addN", terms, "tensors");
  if (terms.length === 0) throw new Error("addN: needs at least one tensor");
  terms.forEach((t, i) => expectTensor("addN", t, `term ${i}`));
  const first = terms[0]!;
  for (const t of terms) {
    if (!sameShape(t.shape, first.shape) || t.dtype !== first.dtype) {
      throw new Error(
        `addN: every term must be ${first.dtype} ${shapeString(first.shape)}, got ${t.dtype} ${shapeString(t.shape)}`,
      );
    }
  }
  const out = getBackend().addN(
    terms.map((t) => t.storage.kernelInput),
    first.size,
    first.dtype,
  );
  // d Σ xₖ = Σ dxₖ: every term gets the same gradient
  return fromOp("addN", kernelOutput(out, first.dtype), first.shape, [...terms], (g) => terms.map(() => g));
}
// d(a - b) = da - db
export const sub = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp("sub", a, b, (g, _a, b) => [g, b.requiresGrad ? neg(g) : null]);
// d(a b) = b da + a db
export const mul = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp("mul", a, b, (g, a, b) => [a.requiresGrad ? mul(g, b) : null, b.requiresGrad ? mul(g, a) : null]);
// d(a / b) = da / b − (a / b²) db = da / b − y db / b
export const div = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp("div", a, b, (g, a, b, y) => [
    a.requiresGrad ? div(g, b) : null,
    b.requiresGrad ? neg(div(mul(g, y), b)) : null,
  ]);
// d(aᵇ) = b aᵇ⁻¹ da + aᵇ ln(a) db  (the db term only when the exponent is differentiated)
export const pow = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp("pow", a, b, (g, a, b, y) => [
    a.requiresGrad ? mul(g, mul(b, pow(a, sub(b, 1)))) : null,
    b.requiresGrad ? mul(g, mul(y, log(a))) : null,
  ]);
// d max(a, b) = [a > b] da + [b > a] db, ties split evenly
export const maximum = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp("maximum", a, b, (g, a, b) => [
    mul(g, add(gt(a, b), mul(eq(a, b), 0.5))),
    mul(g, add(gt(b, a), mul(eq(a, b), 0.5))),
  ]);
// d min(a, b) = [a < b] da + [b < a] db, ties split evenly
export const minimum = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp("minimum", a, b, (g, a, b) => [
    mul(g, add(lt(a, b), mul(eq(a, b), 0.5))),
    mul(g, add(lt(b, a), mul(eq(a, b), 0.5))),
  ]);

// Comparisons give 1 or 0 in the inputs' dtype; they are constant almost everywhere, so not differentiated.
export const eq = (a: TensorLike, b: TensorLike): Tensor => binaryOp("eq", a, b, null);
export const ne = (a: TensorLike, b: TensorLike): Tensor => binaryOp("ne", a, b, null);
export const gt = (a: TensorLike, b: TensorLike): Tensor => binaryOp("gt", a, b, null);
export const ge = (a: TensorLike, b: TensorLike): Tensor => binaryOp("ge", a, b, null);
export const lt = (a: TensorLike, b: TensorLike): Tensor => binaryOp("lt", a, b, null);
export const le = (a: TensorLike, b: TensorLike): Tensor => binaryOp("le", a, b, null);

// d(−x) = −dx
export const neg = (x: Tensor): Tensor => unaryOp("neg", x, (g) => neg(g));
// d exp(x) = exp(x) dx
export const exp = (x: Tensor): Tensor => unaryOp("exp", x, (g, _x, y) => mul(g, y));
// d log(x) = dx / x
export const log = (x: Tensor): Tensor => unaryOp("log", x, (g, x) => div(g, x));
// d log(1 + x) = dx / (1 + x)
export const log1p = (x: Tensor): Tensor => unaryOp("log1p", x, (g, x) => div(g, add(x, 1)));
// d √x = dx / (2 √x)
export const sqrt = (x: Tensor): Tensor => unaryOp("sqrt", x, (g, _x, y) => div(g, mul(y, 2)));
// d x² = 2x dx
export const square = (x: Tensor): Tensor => unaryOp("square", x, (g, x) => mul(g, mul(x, 2)));
// d (1/x) = −dx / x²
export const reciprocal = (x: Tensor): Tensor => unaryOp("reciprocal", x, (g, _x, y) => neg(mul(g, square(y))));
// d |x| = sign(x) dx
export const abs = (x: Tensor): Tensor => unaryOp("abs", x, (g, x) => mul(g, sign(x)));
// d tanh(x) = (1 − tanh²(x)) dx
export const tanh = (x: Tensor): Tensor => unaryOp("tanh", x, (g, _x, y) => mul(g, sub(1, square(y))));
// d σ(x) = σ(x)(1 − σ(x)) dx
export const sigmoid = (x: Tensor): Tensor => unaryOp("sigmoid", x, (g, _x, y) => mul(g, mul(y, sub(1, y))));
// d log(1 + eˣ) = σ(x) dx   (forward is stable for large |x|: see kernels/elementwise.ts)
export const softplus = (x: Tensor): Tensor => unaryOp("softplus", x, (g, x) => mul(g, sigmoid(x)));
// d relu(x) = [x > 0] dx
export const relu = (x: Tensor): Tensor => unaryOp("relu", x, (g, x) => mul(g, step(x)));
// d sin(x) = cos(x) dx
export const sin = (x: Tensor): Tensor => unaryOp("sin", x, (g, x) => mul(g, cos(x)));
// d cos(x) = −sin(x) dx
export const cos = (x: Tensor): Tensor => unaryOp("cos", x, (g, x) => neg(mul(g, sin(x))));
// sign and the unit step are constant almost everywhere: not differentiated.
export const sign = (x: Tensor): Tensor => unaryOp("sign", x, null);
export const step = (x: Tensor): Tensor => unaryOp("step", x, null);

/** cond ? a : b elementwise, all three broadcast together; cond is any tensor, nonzero meaning true. */
export function where(cond: Tensor, aIn: TensorLike, bIn: TensorLike): Tensor {
  expectTensor("where", cond, "the condition");
  const like = aIn instanceof Tensor ? aIn : bIn instanceof Tensor ? bIn : cond;
  const a = asTensor("where", aIn, like),
    b = asTensor("where", bIn, like);
  const shape = broadcastShapes("where", cond.shape, a.shape, b.shape);
  const full = (t: Tensor): Tensor => (sameShape(t.shape, shape) ? t : broadcastTo(t.detach(), shape));
  const [c, x, y] = [full(cond), full(a), full(b)];
  const on = [c, x, y].map((t) => t.storage.kernelInput) as [KernelInput, KernelInput, KernelInput];
  const out = kernelOutput(getBackend().where(...on, sizeOf(shape), a.dtype), a.dtype);
  // d where(c, a, b) = where(c, da, 0) + where(c, 0, db)
  return fromOp("where", out, shape, [cond, a, b], (g) => [
    null,
    a.requiresGrad ? where(cond, g, 0) : null,
    b.requiresGrad ? where(cond, 0, g) : null,
  ]);
}

function converted(values: ArrayLike<number>, dtype: Tensor["dtype"]) {
  const out = allocate(dtype, values.length);
  out.set(values);
  return out;
}

/** The same values in another dtype; the gradient is converted back. */
export function astype(x: Tensor, dtype: Tensor["dtype"]): Tensor {
  expectTensor("astype", x);
  if (checkDType("astype", dtype) === undefined)
    throw new Error('astype: dtype must be "float32" or "float64", got undefined');
  if (x.dtype === dtype) return x;
  // A device holds float32 whatever the label (see kernels/gpu/backend.ts): there, a relabelled copy.
  const out = x.storage.onDevice
    ? kernelOutput(getBackend().stridedCopy(x.storage.kernelInput, 0, [x.size], [1], dtype), dtype)
    : converted(x.data, dtype);
  return fromOp("astype", out, x.shape, [x], (g) => [astype(g, x.dtype)]);
}
