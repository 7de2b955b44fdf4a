import { packageProject } from '@pythiajs/vitest-config';

export default packageProject('evals');
