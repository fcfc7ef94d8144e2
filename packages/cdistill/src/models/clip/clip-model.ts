// OpenCLIP's whole CLIP model, as its checkpoint lays it out: the text tower at the root
// (`token_embedding`, `positional_embedding`, `transformer.*`, `ln_final`), `text_projection`,
// the image tower under `visual.`, and `logit_scale`. One checkpoint loads both towers; the joint
// embeddings are what CLIP score and CLIP-feature distances are computed on.
import { extname } from 'node:path';

import { arange, io, nn, noGrad, tidy, type Tensor } from '@cdistill/torch';

import { ClipTextTower, type ClipTextOptions } from './text-tower.js';
import type { ClipModelConfig } from './vision-config.js';
import { ClipVisionTower } from './vision-tower.js';

/** The parameters outside the text tower's own module tree (the text tower sits at the root). */
class ClipJointParts extends nn.Module {
  readonly textProjection: Tensor;
  readonly visual: ClipVisionTower;
  readonly logitScale: Tensor;

  constructor(c: ClipModelConfig, o: ClipTextOptions) {
    super();
    this.textProjection = this.param(
      'text_projection',
      nn.init.normal_(nn.init.emptyParam([c.text.width, c.embedDim], o), 0, c.text.width ** -0.5, o.generator),
    );
    this.visual = this.module('visual', new ClipVisionTower({ ...c.vision, outputDim: c.embedDim }, o));
    // OpenCLIP starts the temperature at log(1/0.07); kept so the checkpoint's key has a home.
    this.logitScale = this.param('logit_scale', nn.init.emptyParam([], o).fill_(Math.log(1 / 0.07)));
  }
}

export class ClipModel {
  readonly text: ClipTextTower;
  readonly joint: ClipJointParts;

  constructor(
    readonly config: Readonly<ClipModelConfig>,
    o: ClipTextOptions = {},
  ) {
    if (config.vision.outputDim !== config.embedDim)
      throw new Error(
        `ClipModel: vision outputDim ${config.vision.outputDim} differs from embedDim ${config.embedDim}`,
      );
    this.text = new ClipTextTower(config.text, o);
    this.joint = new ClipJointParts(config, o);
    this.eval();
  }

  get visual(): ClipVisionTower {
    return this.joint.visual;
  }

  get device(): string {
    return this.joint.textProjection.device;
  }

  eval(): this {
    this.text.eval().requiresGrad_(false);
    this.joint.eval().requiresGrad_(false);
    return this;
  }

  /** Normalised pixels [B, 3, S, S] → image features [B, embedDim] (not unit norm), no graph. */
  encodeImage(pixels: Tensor): Tensor {
    return noGrad(() => this.visual.forward(pixels));
  }

  /**
   * Token ids [B, ctx] → text features [B, embedDim]: the state after ln_final at each row's highest
   * id (the end-of-text token, OpenCLIP's "argmax" pooling) times text_projection.
   */
  encodeText(inputIds: Tensor): Tensor {
    return noGrad(() =>
      tidy(() => {
        const [b, l] = inputIds.shape as [number, number];
        const h = this.text.forward(inputIds);
        const rows = arange(0, b, 1, { dtype: 'int64', device: inputIds.device })
          .mul(l)
          .add(inputIds.argmax(-1).to('int64'));
        return h
          .reshape(b * l, h.size(2))
          .indexSelect(0, rows)
          .matmul(this.joint.textProjection);
      }),
    );
  }

  /** Builds the model and loads every tensor of an OpenCLIP checkpoint (.safetensors, .bin/.pt). */
  static fromCheckpoint(path: string, config: ClipModelConfig, o: ClipTextOptions = {}): ClipModel {
    const model = new ClipModel(config, o);
    try {
      const sd = extname(path).toLowerCase() === '.safetensors' ? io.loadSafetensors(path) : io.loadStateDictFile(path);
      try {
        model.loadStateDict(sd, path);
      } finally {
        for (const t of sd.values()) t.dispose();
      }
    } catch (err) {
      model.dispose();
      throw err;
    }
    return model.eval();
  }

  /**
   * Strict over the whole checkpoint: the text tower takes its keys, every other key must be one of
   * `text_projection`, `logit_scale` or `visual.*` and all of those must be present. `source` names
   * the file in errors. A DistributedDataParallel `module.` prefix is accepted.
   */
  loadStateDict(sd: ReadonlyMap<string, Tensor>, source: string): void {
    const used = this.text.loadTextStateDict(sd, source);
    const rest = new Map<string, Tensor>();
    for (const [k, t] of sd) if (!used.has(k)) rest.set(k.startsWith('module.') ? k.slice(7) : k, t);
    try {
      noGrad(() => this.joint.loadStateDict(rest, { strict: true }));
    } catch (err) {
      if (!(err instanceof nn.StateDictError)) throw err;
      throw new nn.StateDictError(
        `${source}: CLIP image tower / projection weights do not match: ${err.message}`,
        err.missing,
        err.unexpected,
        err.mismatched,
      );
    }
  }

  dispose(): void {
    this.text.dispose();
    this.joint.dispose();
  }
}
