// A seeded source of randomness, passed explicitly to every random op (no hidden global state).
import { native, type GeneratorHandle } from './native.js';
import { Tensor } from './tensor.js';

export class Generator {
  /** @internal */
  readonly _g: GeneratorHandle;
  readonly device: string;

  constructor(seed: number, device = 'cpu') {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new Error(`Generator: seed must be a non-negative integer, got ${seed}`);
    this.device = device;
    this._g = native.generatorNew(device, seed);
  }

  get initialSeed(): number {
    return native.generatorSeed(this._g);
  }
  /** The full state (a uint8 tensor), for checkpoints that resume bit-exactly. */
  getState(): Tensor {
    return new Tensor(native.generatorGetState(this._g));
  }
  setState(state: Tensor): void {
    native.generatorSetState(this._g, state._h);
  }
}

/** Seeds libtorch's global generators (for code that passes no Generator). */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}
