import { register } from 'node:module';

if (Number(process.versions.node.split('.')[0]) < 22) register('./node20-loader.mjs', import.meta.url);
