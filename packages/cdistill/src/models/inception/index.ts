export { FrozenBatchNorm2d } from './batch-norm.js';
export { BasicConv2d, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE } from './blocks.js';
export { FID_INCEPTION_FEATURES, FID_INCEPTION_SIZE, FidInceptionV3, inceptionPixels } from './fid-inception.js';
