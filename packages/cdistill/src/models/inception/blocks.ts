// The Inception-v3 blocks of the FID network, under torchvision's names (Inception3's InceptionA–E,
// BasicConv2d) so that the published state dict's keys load as they are. The FID network is the
// TensorFlow graph of 2015 ported to PyTorch, and differs from torchvision's own Inception in its
// pooling: the 3×3 average pools of the A, C and first E blocks leave the zero padding out of each
// mean (TensorFlow's rule), and the last E block pools with a 3×3 max instead (pytorch-fid's
// FIDInceptionA/C/E_1/E_2). Every channel count is the published one divided by `d`, the width
// divisor (1 for the real network; the golden case uses 16).
import * as torch from '@cdistill/torch';

import { runSteps } from '../steps.js';
import { FrozenBatchNorm2d } from './batch-norm.js';

const { nn } = torch;
type Tensor = torch.Tensor;
type Size2d = torch.nn.Size2d;
interface ConvPlacement {
  stride?: Size2d;
  padding?: Size2d;
}

/** TensorFlow's Inception uses 0.001 (PyTorch's default is 1e-5). */
const BN_EPS = 0.001;

/**
 * conv (no bias) → BatchNorm → ReLU; keys `conv.weight`, `bn.*`. At inference BatchNorm is affine per
 * output channel, so it is folded into the convolution (weights scaled, its shift as the bias) and the
 * ReLU runs in place: one activation map per layer instead of four, which is what bounds peak memory.
 */
export class BasicConv2d extends nn.Module {
  readonly conv: torch.nn.Conv2d;
  readonly bn: FrozenBatchNorm2d;

  constructor(cin: number, cout: number, kernel: Size2d, o: torch.nn.ParamOptions, at: ConvPlacement = {}) {
    super();
    this.conv = this.module('conv', new nn.Conv2d(cin, cout, kernel, { ...o, ...at, bias: false }));
    this.bn = this.module('bn', new FrozenBatchNorm2d(cout, BN_EPS, o));
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const { scale, shift } = this.bn.scaleShift();
      const w = this.conv.weight.mul(scale.reshape(-1, 1, 1, 1));
      return torch.conv2d(x, w, shift, { stride: this.conv.stride, padding: this.conv.padding }).clamp_(0);
    });
  }
}

/** A block of branches of BasicConv2d; `conv` registers one under its checkpoint name. */
abstract class Branches extends nn.Module {
  constructor(private readonly o: torch.nn.ParamOptions) {
    super();
  }

  protected conv(name: string, cin: number, cout: number, kernel: Size2d, at: ConvPlacement = {}): BasicConv2d {
    return this.module(name, new BasicConv2d(cin, cout, kernel, this.o, at));
  }

  abstract forward(x: Tensor): Tensor;
}

/** Runs `convs` one after another, freeing each intermediate once the next exists. */
const chain = (x: Tensor, convs: readonly BasicConv2d[]): Tensor =>
  runSteps(
    x,
    convs.map((c) => (h: Tensor) => c.forward(h)),
  );

/** The 3×3 stride-1 average pool of TensorFlow: padded, but the padding is not counted. */
const tfAvgPool = (x: Tensor) => torch.avgPool2d(x, 3, { stride: 1, padding: 1, countIncludePad: false });
/** The 3×3 stride-2 max pool of the grid reductions (no padding). */
const reduceMaxPool = (x: Tensor) => torch.maxPool2d(x, 3, { stride: 2 });

const row = (k: number): [number, number] => [1, k];
const col = (k: number): [number, number] => [k, 1];
const rowPad = (k: number): ConvPlacement => ({ padding: [0, (k - 1) / 2] });
const colPad = (k: number): ConvPlacement => ({ padding: [(k - 1) / 2, 0] });

/** Mixed_5b/c/d: 1×1, 5×5, double 3×3 and pool branches; (224 + pool)/d channels out. */
export class InceptionA extends Branches {
  private readonly b1: BasicConv2d;
  private readonly b5: BasicConv2d[];
  private readonly b3: BasicConv2d[];
  private readonly pool: BasicConv2d;

  constructor(cin: number, poolFeatures: number, d: number, o: torch.nn.ParamOptions) {
    super(o);
    this.b1 = this.conv('branch1x1', cin, 64 / d, 1);
    this.b5 = [this.conv('branch5x5_1', cin, 48 / d, 1), this.conv('branch5x5_2', 48 / d, 64 / d, 5, { padding: 2 })];
    this.b3 = [
      this.conv('branch3x3dbl_1', cin, 64 / d, 1),
      this.conv('branch3x3dbl_2', 64 / d, 96 / d, 3, { padding: 1 }),
      this.conv('branch3x3dbl_3', 96 / d, 96 / d, 3, { padding: 1 }),
    ];
    this.pool = this.conv('branch_pool', cin, poolFeatures, 1);
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() =>
      torch.cat([this.b1.forward(x), chain(x, this.b5), chain(x, this.b3), this.pool.forward(tfAvgPool(x))], 1),
    );
  }
}

/** Mixed_6a: halves the grid (35 → 17) with stride-2 3×3 convolutions beside a max pool. */
export class InceptionB extends Branches {
  private readonly b3: BasicConv2d;
  private readonly b3dbl: BasicConv2d[];

  constructor(cin: number, d: number, o: torch.nn.ParamOptions) {
    super(o);
    this.b3 = this.conv('branch3x3', cin, 384 / d, 3, { stride: 2 });
    this.b3dbl = [
      this.conv('branch3x3dbl_1', cin, 64 / d, 1),
      this.conv('branch3x3dbl_2', 64 / d, 96 / d, 3, { padding: 1 }),
      this.conv('branch3x3dbl_3', 96 / d, 96 / d, 3, { stride: 2 }),
    ];
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => torch.cat([this.b3.forward(x), chain(x, this.b3dbl), reduceMaxPool(x)], 1));
  }
}

/** Mixed_6b–e: 7×7 convolutions factorised into 1×7 and 7×1; 768/d channels out. */
export class InceptionC extends Branches {
  private readonly b1: BasicConv2d;
  private readonly b7: BasicConv2d[];
  private readonly b7dbl: BasicConv2d[];
  private readonly pool: BasicConv2d;

  constructor(cin: number, c7: number, d: number, o: torch.nn.ParamOptions) {
    super(o);
    this.b1 = this.conv('branch1x1', cin, 192 / d, 1);
    this.b7 = [
      this.conv('branch7x7_1', cin, c7, 1),
      this.conv('branch7x7_2', c7, c7, row(7), rowPad(7)),
      this.conv('branch7x7_3', c7, 192 / d, col(7), colPad(7)),
    ];
    this.b7dbl = [
      this.conv('branch7x7dbl_1', cin, c7, 1),
      this.conv('branch7x7dbl_2', c7, c7, col(7), colPad(7)),
      this.conv('branch7x7dbl_3', c7, c7, row(7), rowPad(7)),
      this.conv('branch7x7dbl_4', c7, c7, col(7), colPad(7)),
      this.conv('branch7x7dbl_5', c7, 192 / d, row(7), rowPad(7)),
    ];
    this.pool = this.conv('branch_pool', cin, 192 / d, 1);
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() =>
      torch.cat([this.b1.forward(x), chain(x, this.b7), chain(x, this.b7dbl), this.pool.forward(tfAvgPool(x))], 1),
    );
  }
}

/** Mixed_7a: halves the grid (17 → 8). */
export class InceptionD extends Branches {
  private readonly b3: BasicConv2d[];
  private readonly b7x3: BasicConv2d[];

  constructor(cin: number, d: number, o: torch.nn.ParamOptions) {
    super(o);
    this.b3 = [this.conv('branch3x3_1', cin, 192 / d, 1), this.conv('branch3x3_2', 192 / d, 320 / d, 3, { stride: 2 })];
    this.b7x3 = [
      this.conv('branch7x7x3_1', cin, 192 / d, 1),
      this.conv('branch7x7x3_2', 192 / d, 192 / d, row(7), rowPad(7)),
      this.conv('branch7x7x3_3', 192 / d, 192 / d, col(7), colPad(7)),
      this.conv('branch7x7x3_4', 192 / d, 192 / d, 3, { stride: 2 }),
    ];
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => torch.cat([chain(x, this.b3), chain(x, this.b7x3), reduceMaxPool(x)], 1));
  }
}

/**
 * Mixed_7b/c: 3×3 convolutions split into parallel 1×3 and 3×1; 2048/d channels out. The pool branch
 * averages TensorFlow's way in Mixed_7b and takes a max in Mixed_7c, as the FID graph has it.
 */
export class InceptionE extends Branches {
  private readonly b1: BasicConv2d;
  private readonly b3In: BasicConv2d;
  private readonly b3Split: [BasicConv2d, BasicConv2d];
  private readonly b3dblIn: BasicConv2d[];
  private readonly b3dblSplit: [BasicConv2d, BasicConv2d];
  private readonly pool: BasicConv2d;

  constructor(
    cin: number,
    d: number,
    private readonly poolKind: 'tf-average' | 'max',
    o: torch.nn.ParamOptions,
  ) {
    super(o);
    const c = 384 / d;
    this.b1 = this.conv('branch1x1', cin, 320 / d, 1);
    this.b3In = this.conv('branch3x3_1', cin, c, 1);
    this.b3Split = [
      this.conv('branch3x3_2a', c, c, row(3), rowPad(3)),
      this.conv('branch3x3_2b', c, c, col(3), colPad(3)),
    ];
    this.b3dblIn = [
      this.conv('branch3x3dbl_1', cin, 448 / d, 1),
      this.conv('branch3x3dbl_2', 448 / d, c, 3, { padding: 1 }),
    ];
    this.b3dblSplit = [
      this.conv('branch3x3dbl_3a', c, c, row(3), rowPad(3)),
      this.conv('branch3x3dbl_3b', c, c, col(3), colPad(3)),
    ];
    this.pool = this.conv('branch_pool', cin, 192 / d, 1);
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const split = (h: Tensor, [a, b]: [BasicConv2d, BasicConv2d]) => torch.cat([a.forward(h), b.forward(h)], 1);
      const pooled = this.poolKind === 'max' ? torch.maxPool2d(x, 3, { stride: 1, padding: 1 }) : tfAvgPool(x);
      return torch.cat(
        [
          this.b1.forward(x),
          split(this.b3In.forward(x), this.b3Split),
          split(chain(x, this.b3dblIn), this.b3dblSplit),
          this.pool.forward(pooled),
        ],
        1,
      );
    });
  }
}
