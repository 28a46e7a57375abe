// Names of the clinic Table-1 methods (imported by the CLI at start-up, so nothing heavy here).

/** Methods of the clinic table (preset `methods`). */
export const CLINIC_METHODS = ['random', 'reptile', 'retinamnist', 'imagenet-frozen', 'imagenet-topblocks'] as const;
export type ClinicMethod = (typeof CLINIC_METHODS)[number];

/** Row titles of the table. */
export const CLINIC_METHOD_TITLES: Record<ClinicMethod, string> = {
  random: 'conv net, random init',
  reptile: 'conv net, Reptile init (Omniglot)',
  retinamnist: 'conv net, pre-trained on RetinaMNIST',
  'imagenet-frozen': 'ImageNet MobileNetV2 frozen + new head',
  'imagenet-topblocks': 'ImageNet MobileNetV2, top blocks fine-tuned',
};

/** Short names for figure legends. */
export const CLINIC_METHOD_SHORT: Record<ClinicMethod, string> = {
  random: 'random init', reptile: 'Reptile', retinamnist: 'RetinaMNIST', 'imagenet-frozen': 'ImageNet frozen', 'imagenet-topblocks': 'ImageNet top blk',
};
