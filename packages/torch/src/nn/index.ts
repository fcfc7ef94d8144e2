export * from './module.js';
export * from './linear.js';
export * from './layer-norm.js';
export * from './group-norm.js';
export * from './conv2d.js';
export * from './embedding.js';
export * as init from './init.js';
export type { ParamOptions } from './init.js';
export * as functional from '../functional.js';
