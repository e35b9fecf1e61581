export { globSync } from 'glob';
