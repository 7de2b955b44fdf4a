import { pythiaConfig } from '../src/index.js';
import { writeCheckpointFolder } from './checkpoint-folder.js';

await writeCheckpointFolder(process.argv[3]!, pythiaConfig(process.argv[2]!), { planted: false });
