// @cdistill/torch: a typed binding to libtorch. General purpose; knows nothing about diffusion.
import './tensor-reductions.js'; // the reductions, as Tensor methods
export {
  Tensor,
  normalizeDevice,
  type Scalar,
  type TensorOrScalar,
  type Device,
  type TypedArrayFor,
} from './tensor.js';
export { DTYPES, BYTES_PER_ELEMENT, isFloating, type DType } from './dtype.js';
export * from './factories.js';
export * from './functional.js';
export { tidy, keep, scopeDepth } from './scope.js';
export { noGrad, enableGrad, isGradEnabled, grad } from './autograd.js';
export { profileOps, type OpTime } from './profile.js';
export { autocast, type AutocastOptions } from './autocast.js';
export { Generator, manualSeed } from './generator.js';
export {
  cuda,
  getNumThreads,
  setNumThreads,
  blasThreads,
  mallocSettings,
  cpuBlockCache,
  buildInfo,
  externalBytes,
  liveTensors,
  defaultDevice,
  checkDevice,
} from './device.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as io from './io/index.js';
export * as distributed from './distributed.js';
