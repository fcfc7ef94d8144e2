export * from './config.js';
export * from './dit.js';
export { sincosPosEmbed2d } from './layers.js';
export * from './denoiser.js';
