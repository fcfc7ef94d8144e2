// The one boundary file to the native addon: loads it and declares what each function takes.
// Handles are opaque; only tensor.ts and its siblings in this package touch them.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

declare const handleBrand: unique symbol;
/** A tensor handle: a number naming a slot in the native tensor table (see native/common.h). */
export type Handle = number & { readonly [handleBrand]: 'TensorHandle' };
declare const generatorBrand: unique symbol;
export type GeneratorHandle = { readonly [generatorBrand]: 'GeneratorHandle' };
declare const storeBrand: unique symbol;
/** A c10d key-value store (native/distributed.cc). */
export type StoreHandle = { readonly [storeBrand]: 'StoreHandle' };
declare const groupBrand: unique symbol;
/** A c10d process group (native/distributed.cc). */
export type GroupHandle = { readonly [groupBrand]: 'GroupHandle' };

type H = Handle;
type Opt<T> = T | undefined;
type S = number | boolean; // a scalar argument

/** glibc malloc settings applied at load (bytes; 0 when not applied). */
export interface MallocSettings {
  applied: boolean;
  mmapThreshold: number;
  trimThreshold: number;
  topPad: number;
}

/** The small-block cache installed as libtorch's CPU allocator (native/cpu_block_cache.cc); bytes. */
export interface CpuBlockCache {
  installed: boolean;
  largestCached: number;
  threadCacheLimit: number;
  /** Free blocks held for the calling thread. */
  cachedBytes: number;
}

export interface NativeBinding {
  // lifetime and metadata
  dispose(t: H): boolean;
  /** Frees the first `count` handles of `handles`. */
  disposeMany(handles: Float64Array, count: number): void;
  isDisposed(t: H): boolean;
  /** From now on the tensor's bytes count as V8 external memory (its JS object owns it via a finalizer). */
  markCollectable(t: H): boolean;
  liveTensors(): number;
  externalBytes(): number;
  shape(t: H): number[];
  strides(t: H): number[];
  dtype(t: H): number;
  device(t: H): string;
  isContiguous(t: H): boolean;
  storageOffset(t: H): number;
  item(t: H): number | boolean;
  to(t: H, dtype: Opt<number>, device: Opt<string>, nonBlocking: boolean, copy: boolean): H;
  contiguous(t: H): H;
  clone(t: H): H;
  detach(t: H): H;
  asStrided(t: H, size: number[], stride: number[], offset: number): H;
  sameStorage(a: H, b: H): boolean;
  // creation
  empty(shape: number[], dtype: Opt<number>, device: Opt<string>): H;
  zeros(shape: number[], dtype: Opt<number>, device: Opt<string>): H;
  ones(shape: number[], dtype: Opt<number>, device: Opt<string>): H;
  full(shape: number[], value: S, dtype: Opt<number>, device: Opt<string>): H;
  arange(start: number, end: number, step: number, dtype: Opt<number>, device: Opt<string>): H;
  linspace(start: number, end: number, steps: number, dtype: Opt<number>, device: Opt<string>): H;
  eye(n: number, m: number, dtype: Opt<number>, device: Opt<string>): H;
  zerosLike(t: H): H;
  onesLike(t: H): H;
  fullLike(t: H, v: S): H;
  generatorNew(device: string, seed: number): GeneratorHandle;
  generatorGetState(g: GeneratorHandle): H;
  generatorSetState(g: GeneratorHandle, state: H): void;
  generatorSeed(g: GeneratorHandle): number;
  manualSeed(seed: number): void;
  randn(shape: number[], dtype: Opt<number>, device: Opt<string>, gen: Opt<GeneratorHandle>): H;
  rand(shape: number[], dtype: Opt<number>, device: Opt<string>, gen: Opt<GeneratorHandle>): H;
  randint(
    low: number,
    high: number,
    shape: number[],
    dtype: Opt<number>,
    device: Opt<string>,
    gen: Opt<GeneratorHandle>,
  ): H;
  randperm(n: number, dtype: Opt<number>, device: Opt<string>, gen: Opt<GeneratorHandle>): H;
  normal_(t: H, mean: number, std: number, gen: Opt<GeneratorHandle>): H;
  uniform_(t: H, from: number, to: number, gen: Opt<GeneratorHandle>): H;
  bernoulli(p: H, gen: Opt<GeneratorHandle>): H;
  fromBuffer(data: ArrayBufferView, dtype: number, shape: number[], device: Opt<string>): H;
  toArrayBuffer(t: H): ArrayBuffer;
  readFileRegion(path: string, offset: number, dtype: number, shape: number[]): H;
  // element-wise
  gelu(t: H, tanh: boolean): H;
  rsubScalar(t: H, s: S): H;
  rdivScalar(t: H, s: S): H;
  scalarPow(s: S, t: H): H;
  clamp(t: H, min: Opt<S>, max: Opt<S>): H;
  where(cond: H, a: H | S, aIsTensor: boolean, b: H | S, bIsTensor: boolean): H;
  maskedFill(t: H, mask: H, v: S): H;
  lerp(a: H, b: H, w: H): H;
  lerpScalar(a: H, b: H, w: S): H;
  addcmul(t: H, a: H, b: H, v: S): H;
  addcdiv(t: H, a: H, b: H, v: S): H;
  allclose(a: H, b: H, rtol: number, atol: number): boolean;
  equal(a: H, b: H): boolean;
  add_(t: H, o: H, alpha?: S): H;
  add_Scalar(t: H, o: S): H;
  sub_(t: H, o: H): H;
  sub_Scalar(t: H, o: S): H;
  mul_(t: H, o: H): H;
  mul_Scalar(t: H, o: S): H;
  div_(t: H, o: H): H;
  div_Scalar(t: H, o: S): H;
  fill_(t: H, o: H): H;
  fill_Scalar(t: H, o: S): H;
  copy_(t: H, o: H): H;
  lerp_(t: H, end: H, w: S): H;
  zero_(t: H): H;
  clamp_(t: H, min: Opt<S>, max: Opt<S>): H;
  addcmul_(t: H, a: H, b: H, v: S): H;
  addcdiv_(t: H, a: H, b: H, v: S): H;
  // reductions and orderings
  sum(t: H, dims: Opt<number[]>, keepdim: boolean, dtype: Opt<number>): H;
  mean(t: H, dims: Opt<number[]>, keepdim: boolean): H;
  prod(t: H, dim: Opt<number>, keepdim: boolean): H;
  max(t: H): H;
  max(t: H, dim: number, keepdim: boolean): [H, H];
  min(t: H): H;
  min(t: H, dim: number, keepdim: boolean): [H, H];
  amax(t: H, dims: Opt<number[]>, keepdim: boolean): H;
  amin(t: H, dims: Opt<number[]>, keepdim: boolean): H;
  argmax(t: H, dim: Opt<number>, keepdim: boolean): H;
  argmin(t: H, dim: Opt<number>, keepdim: boolean): H;
  norm(t: H, p: number, dims: Opt<number[]>, keepdim: boolean): H;
  var(t: H, dims: Opt<number[]>, correction: number, keepdim: boolean): H;
  std(t: H, dims: Opt<number[]>, correction: number, keepdim: boolean): H;
  logsumexp(t: H, dims: number[], keepdim: boolean): H;
  softmax(t: H, dim: number, dtype: Opt<number>): H;
  logSoftmax(t: H, dim: number, dtype: Opt<number>): H;
  cumsum(t: H, dim: number): H;
  all(t: H): H;
  any(t: H): H;
  topk(t: H, k: number, dim: number, largest: boolean, sorted: boolean): [H, H];
  sort(t: H, dim: number, descending: boolean, stable: boolean): [H, H];
  argsort(t: H, dim: number, descending: boolean, stable: boolean): H;
  // shapes and indexing
  reshape(t: H, shape: number[]): H;
  view(t: H, shape: number[]): H;
  permute(t: H, dims: number[]): H;
  transpose(t: H, a: number, b: number): H;
  flatten(t: H, start: number, end: number): H;
  squeeze(t: H, dim: Opt<number>): H;
  unsqueeze(t: H, dim: number): H;
  expand(t: H, shape: number[]): H;
  repeat(t: H, reps: number[]): H;
  repeatInterleave(t: H, n: number, dim: Opt<number>): H;
  flip(t: H, dims: number[]): H;
  roll(t: H, shifts: number[], dims: number[]): H;
  tril(t: H, k: number): H;
  triu(t: H, k: number): H;
  cat(ts: H[], dim: number): H;
  stack(ts: H[], dim: number): H;
  chunk(t: H, n: number, dim: number): H[];
  split(t: H, sizes: number | number[], dim: number): H[];
  unbind(t: H, dim: number): H[];
  narrow(t: H, dim: number, start: number, length: number): H;
  select(t: H, dim: number, index: number): H;
  slice(t: H, dim: number, start: Opt<number>, end: Opt<number>, step: number): H;
  indexSelect(t: H, dim: number, index: H): H;
  index(t: H, indices: H[]): H;
  indexPut_(t: H, indices: H[], values: H, accumulate: boolean): H;
  gather(t: H, dim: number, index: H): H;
  scatter(t: H, dim: number, index: H, src: H): H;
  scatterAdd(t: H, dim: number, index: H, src: H): H;
  indexAdd(t: H, dim: number, index: H, src: H): H;
  oneHot(t: H, numClasses: number): H;
  nonzero(t: H): H;
  // neural-network ops
  matmul(a: H, b: H): H;
  linalgEigh(a: H): [H, H];
  mm(a: H, b: H): H;
  bmm(a: H, b: H): H;
  baddbmm(t: H, a: H, b: H, beta: S, alpha: S): H;
  linear(x: H, w: H, b: Opt<H>): H;
  einsum(eq: string, ts: H[]): H;
  outer(a: H, b: H): H;
  conv2d(x: H, w: H, b: Opt<H>, stride: number[], padding: number[], dilation: number[], groups: number): H;
  avgPool2d(x: H, kernel: number[], stride: number[], padding: number[], countIncludePad: boolean): H;
  maxPool2d(x: H, kernel: number[], stride: number[], padding: number[]): H;
  groupNorm(x: H, groups: number, w: Opt<H>, b: Opt<H>, eps: number): H;
  layerNorm(x: H, shape: number[], w: Opt<H>, b: Opt<H>, eps: number): H;
  upsampleNearest2d(x: H, size: number[]): H;
  upsampleBilinear2d(x: H, size: number[], alignCorners: boolean): H;
  pad(x: H, pads: number[], mode: number, value: Opt<S>): H;
  embedding(w: H, idx: H): H;
  dropout(x: H, p: number, train: boolean): H;
  scaledDotProductAttention(q: H, k: H, v: H, mask: Opt<H>, causal: boolean, scale: Opt<number>, forceMath: boolean): H;
  mseLoss(a: H, b: H): H;
  crossEntropy(logits: H, target: H): H;
  // autograd and autocast
  requiresGrad(t: H): boolean;
  setRequiresGrad(t: H, on: boolean): H;
  isLeaf(t: H): boolean;
  gradFnName(t: H): string | null;
  backward(t: H, grad: Opt<H>, retainGraph: boolean, createGraph: boolean): void;
  grad(t: H): H | undefined;
  setGrad(t: H, g: Opt<H>): void;
  autogradGrad(
    outputs: H[],
    inputs: H[],
    gradOutputs: Opt<H[]>,
    retainGraph: boolean,
    createGraph: boolean,
    allowUnused: boolean,
  ): (H | undefined)[];
  isGradEnabled(): boolean;
  setGradEnabled(on: boolean): void;
  opProfileStart(): void;
  /** [name, calls, self ns, total ns] per op name */
  opProfileStop(): [string, number, number, number][];
  setAutocast(deviceType: 'cuda' | 'cpu', enabled: boolean, dtype: number): boolean;
  // optimizers
  adamw(
    params: H[],
    m: H[],
    v: H[],
    step: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    wd: number,
    fused: boolean,
  ): void;
  adamwFusedCpuAvailable(): boolean;
  clipGradNorm(params: H[], maxNorm: number): number;
  zeroGrads(params: H[]): void;
  lerpAll(dst: H[], src: H[], weight: number): void;
  copyAll(dst: H[], src: H[]): void;
  // devices
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaSynchronize(device?: number): void;
  getNumThreads(): number;
  setNumThreads(n: number): boolean;
  mallocSettings(): MallocSettings;
  cpuBlockCache(): CpuBlockCache;
  blasThreads(): number;
  benchOpFloor(a: H, b: H, iters: number): number;
  buildInfo(): { torchVersion: string; cudaBuild: boolean; parallelInfo: string; config: string };
  // distributed (c10d); every call blocks until done
  distBackends(): { gloo: boolean; nccl: boolean };
  distTcpStore(host: string, port: number, isServer: boolean, timeoutMs: number): StoreHandle;
  distFileStore(path: string, worldSize: number): StoreHandle;
  distStorePort(s: StoreHandle): number;
  distStoreSet(s: StoreHandle, key: string, value: string): void;
  distStoreGet(s: StoreHandle, key: string): string;
  distStoreAdd(s: StoreHandle, key: string, n: number): number;
  distStoreCheck(s: StoreHandle, keys: string[]): boolean;
  distStoreWait(s: StoreHandle, keys: string[], timeoutMs: number): void;
  distGroupNew(
    s: StoreHandle,
    prefix: string,
    backend: string,
    rank: number,
    size: number,
    timeoutMs: number,
    device: string,
  ): GroupHandle;
  distGroupDestroy(g: GroupHandle): void;
  distGroupFailure(g: GroupHandle): string;
  distBroadcast(g: GroupHandle, ts: H[], root: number, bucketBytes: number, timeoutMs: Opt<number>): void;
  distAllReduce(g: GroupHandle, ts: H[], op: number, bucketBytes: number, timeoutMs: Opt<number>): void;
  distAllReduceGrads(g: GroupHandle, params: H[], scalars: Opt<H>, bucketBytes: number): void;
  distBarrier(g: GroupHandle, timeoutMs: Opt<number>): void;
}

/** Functions of one tensor that return a tensor (each is also a Tensor method of the same name). */
export const UNARY_OPS = [
  'neg',
  'abs',
  'sqrt',
  'rsqrt',
  'exp',
  'log',
  'log1p',
  'expm1',
  'sin',
  'cos',
  'tanh',
  'sigmoid',
  'relu',
  'silu',
  'erf',
  'square',
  'reciprocal',
  'sign',
  'floor',
  'ceil',
  'round',
  'logicalNot',
  'isnan',
  'isfinite',
] as const;
export type UnaryName = (typeof UNARY_OPS)[number];
/** Binary ops: `name(a, b)` for two tensors and `nameScalar(a, s)` for a tensor and a number (Tensor methods too). */
export const BINARY_OPS = [
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'remainder',
  'maximum',
  'minimum',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
  'logicalAnd',
  'logicalOr',
  'atan2',
] as const;
export type BinaryName = (typeof BINARY_OPS)[number];

type UnaryFns = { [K in UnaryName]: (t: H) => H };
type BinaryFns = { [K in BinaryName]: (a: H, b: H) => H } & { [K in BinaryName as `${K}Scalar`]: (a: H, s: S) => H };
export interface Native extends NativeBinding, UnaryFns, BinaryFns {}

function load(): Native {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/src/native.js → package root is two levels up.
  const addon = join(here, '..', '..', 'build', 'Release', 'torch_native.node');
  const require = createRequire(import.meta.url);
  try {
    return require(addon) as Native;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(
      `@cdistill/torch: cannot load the native addon at ${addon}: ${why}\n` +
        'Build it with `npm install` (or `node packages/torch/scripts/build-native.mjs`); see the README.',
    );
  }
}

export const native: Native = load();
