// The VAE family: diffusers AutoencoderKL (SDXL and friends) and pixel space behind one interface.
export {
  AutoencoderKL,
  VAE_WEIGHT_FILES,
  type AutoencoderKLOptions,
  type DiagonalGaussian,
  type FromFolderOptions,
} from './autoencoder-kl.js';
export { IdentityVae, latentShape, toImage01, type LatentCodec } from './codec.js';
export { currentVaeKey, normalizeVaeStateDict } from './checkpoint.js';
export {
  OSTRIS_KL_F8_D16_CONFIG,
  SDXL_VAE_CONFIG,
  loadVaeConfig,
  parseVaeConfig,
  vaeDownscale,
  type VaeConfig,
} from './config.js';
export { VaeDecoder, VaeEncoder } from './coder.js';
