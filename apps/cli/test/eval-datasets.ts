import { PARQUET_REVISION } from '@pythiajs/checkpoint-hub';
import type { FakeRepo } from '@pythiajs/checkpoint-hub/testing';
import { TASK_NAMES, TASK_TABLE, type TaskName } from '@pythiajs/evals';
import { parquetOf } from '@pythiajs/vitest-config/parquet';

// Datasets for the tests of `pythia eval`: a few rows of each task in the schema of its Hub
// dataset, as the Hub's Parquet conversion serves them.

/** A few rows of each task, in the schema of its Hub dataset. */
export const ROWS: Record<TaskName, Record<string, unknown>[]> = {
  lambada_openai: [
    { text: 'The cat sat on the mat and looked at the dog' },
    { text: 'She opened the door and walked into the room' },
    { text: 'He said that he would come back tomorrow morning' },
    { text: 'They went to the market to buy some fresh bread' },
  ],
  piqa: [
    {
      goal: 'To keep bread fresh',
      sol1: 'store it in a sealed bag.',
      sol2: 'store it in the sun.',
      label: 0,
    },
    {
      goal: 'Make ice cubes',
      sol1: 'Put water in an oven.',
      sol2: 'Put water in a freezer tray.',
      label: 1,
    },
    {
      goal: 'Clean a window',
      sol1: 'Spray it and wipe it with paper.',
      sol2: 'Paint it over.',
      label: 0,
    },
    {
      goal: 'Open a jar',
      sol1: 'Twist the lid counterclockwise.',
      sol2: 'Twist the jar into the lid.',
      label: 0,
    },
  ],
  arc_easy: [
    {
      id: 'Mercury_1',
      question: 'Which object is the best conductor of electricity?',
      choices: { text: ['wood', 'iron', 'glass', 'rubber'], label: ['A', 'B', 'C', 'D'] },
      answerKey: 'B',
    },
    {
      id: 'NYSEDREGENTS_2',
      question: 'What do plants need to make food?',
      choices: { text: ['sunlight', 'sand', 'salt'], label: ['1', '2', '3'] },
      answerKey: '1',
    },
    {
      id: 'Mercury_3',
      question: 'What is the boiling point of water at sea level?',
      choices: {
        text: ['50 degrees', '100 degrees', '150 degrees', '200 degrees'],
        label: ['A', 'B', 'C', 'D'],
      },
      answerKey: 'B',
    },
  ],
  arc_challenge: [
    {
      id: 'Mercury_4',
      question: 'Why does a metal spoon feel colder than a wooden one at the same temperature?',
      choices: {
        text: [
          'Metal conducts heat away faster.',
          'Wood is warmer.',
          'Metal is wet.',
          'Wood glows.',
        ],
        label: ['A', 'B', 'C', 'D'],
      },
      answerKey: 'A',
    },
    {
      id: 'Mercury_5',
      question: 'Which process forms sedimentary rock?',
      choices: {
        text: ['melting', 'compaction', 'evaporation', 'freezing', 'burning'],
        label: ['A', 'B', 'C', 'D', 'E'],
      },
      answerKey: 'B',
    },
    {
      id: 'Mercury_6',
      question: 'What causes the seasons on Earth?',
      choices: {
        text: ['the tilt of its axis', 'its distance to the Moon', 'the solar wind'],
        label: ['A', 'B', 'C'],
      },
      answerKey: 'A',
    },
  ],
  sciq: [
    {
      question:
        'What type of organism is commonly used in preparation of foods such as cheese and yogurt?',
      distractor1: 'viruses',
      distractor2: 'protozoa',
      distractor3: 'gymnosperms',
      correct_answer: 'mesophilic organisms',
      support: 'Mesophiles grow best in moderate temperature.',
    },
    {
      question: 'What is the least dangerous radioactive decay?',
      distractor1: 'zeta decay',
      distractor2: 'beta decay',
      distractor3: 'gamma decay',
      correct_answer: 'alpha decay',
      support: '',
    },
    {
      question: 'What do mammals have that keeps them warm?',
      distractor1: 'scales',
      distractor2: 'feathers',
      distractor3: 'shells',
      correct_answer: 'fur',
      support: 'All mammals have hair or fur at some point in their lives.',
    },
  ],
  logiqa: [
    {
      label: 'c',
      context: 'Some birds cannot fly. Penguins are birds.',
      question: 'Which must be true?',
      options: ['All birds fly.', 'Penguins fly.', 'Some birds do not fly.', 'No bird flies.'],
    },
    {
      label: 'a',
      context: 'Every student in the class passed. Ann is in the class.',
      question: 'What follows?',
      options: ['Ann passed.', 'Ann failed.', 'Nobody passed.', 'Ann is a teacher.'],
    },
    {
      label: 'd',
      context: 'If it rains, the ground is wet. The ground is dry.',
      question: 'What follows?',
      options: ['It rains.', 'It rained.', 'The ground is wet.', 'It does not rain.'],
    },
  ],
  winogrande: [
    {
      sentence: 'The trophy did not fit in the suitcase because the _ was too big.',
      option1: 'trophy',
      option2: 'suitcase',
      answer: '1',
    },
    {
      sentence: 'Sarah was a much better surgeon than Maria so _ always got the harder cases.',
      option1: 'Sarah',
      option2: 'Maria',
      answer: '1',
    },
    {
      sentence: 'The cup fell on the glass table and the _ broke, since it was fragile.',
      option1: 'cup',
      option2: 'table',
      answer: '2',
    },
  ],
  wsc: [
    {
      text: 'Mark told Pete many lies about himself, which Pete included in his book. He should have been more truthful.',
      span1_index: 0,
      span2_index: 13,
      span1_text: 'Mark',
      span2_text: 'He',
      idx: 0,
      label: 1,
    },
    {
      text: 'The mothers of Arthur and Celeste have come to the town to fetch them. They are very happy to have them back.',
      span1_index: 1,
      span2_index: 13,
      span1_text: 'mothers',
      span2_text: 'They',
      idx: 1,
      label: 1,
    },
    {
      text: 'Joe has sold his house and bought a new one a few miles away. He will be moving out of it on Thursday.',
      span1_index: 4,
      span2_index: 18,
      span1_text: 'house',
      span2_text: 'it',
      idx: 2,
      label: 0,
    },
  ],
};

/** Every task's dataset repo with its `refs/convert/parquet` branch (ai2_arc holds two configs). */
export function datasetRepos(): Record<string, FakeRepo> {
  const repos: Record<string, FakeRepo> = {};
  for (const task of TASK_NAMES) {
    const { repo, config: name, split } = TASK_TABLE[task].hub;
    const parquet = 'c'.repeat(40);
    repos[repo] ??= {
      branches: { main: 'b'.repeat(40), [PARQUET_REVISION]: parquet },
      commits: { ['b'.repeat(40)]: { 'README.md': `# ${repo}\n` }, [parquet]: {} },
    };
    repos[repo].commits[parquet]![`${name}/${split}/0000.parquet`] = parquetOf(ROWS[task]);
  }
  return repos;
}
