import { describe, expect, it } from 'vitest';
import {
  arcChallenge,
  arcEasy,
  generalDetokenize,
  lambadaOpenai,
  logiqa,
  parseLogiqaText,
  piqa,
  sciq,
  TASK_NAMES,
  TASK_TABLE,
  TASKS,
  TaskRowError,
  winogrande,
  wsc,
} from '../src/index.js';

// Rows written by hand in each dataset's own schema (as its parquet rows have them), and the
// requests lm-evaluation-harness v0.3.0 built from them (its doc_to_text / construct_requests).

describe('lambada_openai', () => {
  it('splits at the last space: context before it, " " + the last word after it', () => {
    const doc = lambadaOpenai.document({ text: 'He put the cup on the table' });
    expect(doc.requests).toEqual([{ context: 'He put the cup on the', continuation: ' table' }]);
  });

  it('keeps punctuation and runs of spaces as rsplit(" ", 1) does', () => {
    expect(lambadaOpenai.document({ text: 'She said "no."  Then he left.' }).requests[0]).toEqual({
      context: 'She said "no."  Then he',
      continuation: ' left.',
    });
    // A trailing space leaves an empty last word: the continuation is one space.
    expect(lambadaOpenai.document({ text: 'a b ' }).requests[0]).toEqual({
      context: 'a b',
      continuation: ' ',
    });
    // A passage that starts with its only space has an empty context (scored after EOT).
    expect(lambadaOpenai.document({ text: ' word' }).requests[0]).toEqual({
      context: '',
      continuation: ' word',
    });
  });

  it('has no request for a passage without a space (the harness raised IndexError)', () => {
    expect(() => lambadaOpenai.document({ text: 'word' })).toThrow(TaskRowError);
  });

  it('scores ppl as the log-likelihood and acc as the greedy check', () => {
    const doc = lambadaOpenai.document({ text: 'a b' });
    expect(lambadaOpenai.score(doc, [{ logprob: -2.5, isGreedy: true }])).toEqual({
      ppl: -2.5,
      acc: 1,
    });
    expect(lambadaOpenai.score(doc, [{ logprob: -0.5, isGreedy: false }])).toEqual({
      ppl: -0.5,
      acc: 0,
    });
  });
});

describe('piqa', () => {
  it('asks "Question: <goal>\\nAnswer:" with " " + each solution', () => {
    const doc = piqa.document({
      goal: 'To keep bread fresh ',
      sol1: 'store it in a sealed bag.',
      sol2: 'store it in the sun.',
      label: 0,
    });
    expect(doc.requests).toEqual([
      {
        context: 'Question: To keep bread fresh \nAnswer:',
        continuation: ' store it in a sealed bag.',
      },
      { context: 'Question: To keep bread fresh \nAnswer:', continuation: ' store it in the sun.' },
    ]);
    expect(doc.gold).toBe(0);
    expect(doc.choices).toEqual(['store it in a sealed bag.', 'store it in the sun.']);
  });
});

describe('arc_easy and arc_challenge', () => {
  const row = {
    id: 'Mercury_7175875',
    question:
      'An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect?',
    choices: {
      text: [
        'Planetary density will decrease.',
        'Planetary years will become longer.',
        'Planetary days will become shorter.',
        'Planetary gravity will become stronger.',
      ],
      label: ['A', 'B', 'C', 'D'],
    },
    answerKey: 'C',
  };

  it('asks "Question: <question>\\nAnswer:" with " " + each choice text', () => {
    const doc = arcChallenge.document(row);
    expect(doc.requests.map((r) => r.context)).toEqual(
      Array(4).fill(`Question: ${row.question}\nAnswer:`),
    );
    expect(doc.requests.map((r) => r.continuation)).toEqual(row.choices.text.map((t) => ` ${t}`));
    expect(doc.gold).toBe(2);
  });

  it('reads answer keys "1"–"4" as "A"–"D"', () => {
    const numeric = {
      ...row,
      choices: {
        text: ['dry palms', 'wet palms', 'palms covered with oil', 'palms covered with lotion'],
        label: ['1', '2', '3', '4'],
      },
      answerKey: '1',
    };
    expect(arcEasy.document(numeric).gold).toBe(0);
    expect(arcEasy.document({ ...numeric, answerKey: '4' }).gold).toBe(3);
  });

  it('takes the gold index from the key as a letter, with 3 or 5 choices too', () => {
    const three = {
      ...row,
      choices: { text: ['x', 'y', 'z'], label: ['A', 'B', 'C'] },
      answerKey: 'B',
    };
    expect(arcEasy.document(three).requests).toHaveLength(3);
    expect(arcEasy.document(three).gold).toBe(1);
    const five = {
      ...row,
      choices: { text: ['v', 'w', 'x', 'y', 'z'], label: ['A', 'B', 'C', 'D', 'E'] },
      answerKey: 'E',
    };
    expect(arcEasy.document(five).gold).toBe(4);
    expect(() => arcEasy.document({ ...row, answerKey: 'F' })).toThrow(TaskRowError);
  });
});

describe('sciq', () => {
  const row = {
    question:
      'What type of organism is commonly used in preparation of foods such as cheese and yogurt?',
    distractor3: 'viruses',
    distractor1: 'protozoa',
    distractor2: 'gymnosperms',
    correct_answer: 'mesophilic organisms',
    support: 'Mesophiles grow best in moderate temperature.',
  };

  it('asks "<support>\\nQuestion: <question>\\nAnswer:" with the distractors then the answer', () => {
    const doc = sciq.document(row);
    expect(doc.requests[0]!.context).toBe(
      'Mesophiles grow best in moderate temperature.\nQuestion: What type of organism is commonly used in preparation of foods such as cheese and yogurt?\nAnswer:',
    );
    expect(doc.requests.map((r) => r.continuation)).toEqual([
      ' protozoa',
      ' gymnosperms',
      ' viruses',
      ' mesophilic organisms',
    ]);
    expect(doc.gold).toBe(3);
  });

  it('strips the prompt, so an empty support leaves no leading newline', () => {
    expect(sciq.document({ ...row, support: '' }).requests[0]!.context).toBe(
      `Question: ${row.question}\nAnswer:`,
    );
    // Python's strip: leading white space of the support goes too (a no-break space included).
    expect(sciq.document({ ...row, support: '\u00a0 Cells divide.' }).requests[0]!.context).toMatch(
      /^Cells divide\.\n/,
    );
  });
});

describe('logiqa', () => {
  const row = {
    label: 'b',
    context: 'Some Cantonese do not like chili.  Therefore, some southerners do not like chili.',
    question: 'Which of the following can guarantee the above argument?',
    options: [
      'Some Cantonese love chili. ',
      'Some people who like peppers are southerners. ',
      'All Cantonese are southerners. ',
      'Some Cantonese like neither peppers nor sweets. ',
    ],
  };

  it('asks "Passage: … Question: … Choices: A. … Answer:" with " " + each option', () => {
    const doc = logiqa.document(row);
    expect(doc.requests[0]!.context).toBe(
      'Passage: Some Cantonese do not like chili.  Therefore, some southerners do not like chili.\n' +
        'Question: Which of the following can guarantee the above argument?\nChoices:\n' +
        'A. Some Cantonese love chili. \nB. Some people who like peppers are southerners. \n' +
        'C. All Cantonese are southerners. \nD. Some Cantonese like neither peppers nor sweets. \nAnswer:',
    );
    expect(doc.requests[2]!.continuation).toBe(' All Cantonese are southerners. ');
    expect(doc.gold).toBe(1);
  });

  it('parses the LogiQA text file as the harness’s loading script did', () => {
    const text =
      '\nc\nThe sky is blue.It is day.\nWhat follows?\nA.It is day.\nB.It is night.\nC.It rains.\nD.None.\n\n' +
      'a\nAll men die.\nSo?\nA.Men die.\nB.No.\nC.Maybe.\nD.Never.\n';
    expect(parseLogiqaText(text)).toEqual([
      {
        label: 'c',
        context: 'The sky is blue. It is day.',
        question: 'What follows?',
        options: ['It is day.', 'It is night.', 'It rains.', 'None.'],
      },
      {
        label: 'a',
        context: 'All men die.',
        question: 'So?',
        options: ['Men die.', 'No.', 'Maybe.', 'Never.'],
      },
    ]);
  });
});

describe('winogrande', () => {
  it('poses one context per option and the shared rest of the sentence', () => {
    const doc = winogrande.document({
      sentence: 'Sarah was a much better surgeon than Maria so _ always got the harder cases.',
      option1: 'Sarah',
      option2: 'Maria',
      answer: '1',
    });
    expect(doc.requests).toEqual([
      {
        context: 'Sarah was a much better surgeon than Maria so Sarah',
        continuation: ' always got the harder cases.',
      },
      {
        context: 'Sarah was a much better surgeon than Maria so Maria',
        continuation: ' always got the harder cases.',
      },
    ]);
    expect(doc.gold).toBe(0);
  });

  it('handles a blank at the start and one at the end', () => {
    const start = winogrande.document({
      sentence: '_ was late because the bus broke down.',
      option1: 'Tom',
      option2: 'The bus',
      answer: '2',
    });
    expect(start.requests).toEqual([
      { context: 'Tom', continuation: ' was late because the bus broke down.' },
      { context: 'The bus', continuation: ' was late because the bus broke down.' },
    ]);
    expect(start.gold).toBe(1);
    // Blank last: the continuation is the stripped remainder ("."), after a space.
    const end = winogrande.document({
      sentence: 'The trophy did not fit in the case, so we bought a bigger _ .',
      option1: 'trophy',
      option2: 'case',
      answer: '2',
    });
    expect(end.requests[1]).toEqual({
      context: 'The trophy did not fit in the case, so we bought a bigger case',
      continuation: ' .',
    });
    const last = winogrande.document({
      sentence: 'He gave it to _',
      option1: 'Ann',
      option2: 'Bo',
      answer: '1',
    });
    expect(last.requests[0]!.continuation).toBe(' ');
  });

  it('keeps the harness’s append_context: a blank line before the blank repeats the text before it', () => {
    const doc = winogrande.document({
      sentence: 'First part.\n\nThen _ went home.',
      option1: 'Al',
      option2: 'Bea',
      answer: '1',
    });
    // ctx = "First part.\n\nThen Al"; split on "\n\n", last part dropped, each partial context appended.
    expect(doc.requests.map((r) => r.context)).toEqual([
      'First part.\n\nFirst part.\n\nThen Al',
      'First part.\n\nFirst part.\n\nThen Bea',
    ]);
  });

  it('scores acc as the first maximum against the answer', () => {
    const doc = winogrande.document({ sentence: 'x _ y', option1: 'a', option2: 'b', answer: '2' });
    expect(
      winogrande.score(doc, [
        { logprob: -3, isGreedy: false },
        { logprob: -2, isGreedy: false },
      ]),
    ).toEqual({ acc: 1 });
    // A tie goes to option 1.
    expect(
      winogrande.score(doc, [
        { logprob: -2, isGreedy: false },
        { logprob: -2, isGreedy: false },
      ]),
    ).toEqual({ acc: 0 });
  });
});

describe('wsc', () => {
  const row = {
    text: 'Mark told Pete many lies about himself, which Pete included in his book. He should have been more skeptical.',
    span1_index: 3,
    span2_index: 13,
    span1_text: 'Pete',
    span2_text: 'He',
    idx: 0,
    label: 1,
  };

  it('marks the pronoun and asks whether it refers to the noun, " yes" then " no"', () => {
    const doc = wsc.document(row);
    const context =
      'Passage: Mark told Pete many lies about himself, which Pete included in his book. *He* should have been more skeptical.\n' +
      'Question: In the passage above, does the pronoun "*He*" refer to "*Pete*"?\nAnswer:';
    expect(doc.requests).toEqual([
      { context, continuation: ' yes' },
      { context, continuation: ' no' },
    ]);
  });

  it('cuts the text after the pronoun by characters and detokenizes, as the harness did', () => {
    const doc = wsc.document({
      text: "The man could n't lift his son because he was so weak .",
      span1_index: 1,
      span2_index: 8,
      span1_text: 'man',
      span2_text: 'he',
      label: 1,
    });
    expect(doc.requests[0]!.context.split('\n')[0]).toBe(
      "Passage: The man couldn't lift his son because *he* was so weak.",
    );
    expect(generalDetokenize('( a ) " b " c , d \' e .')).toBe('(a)"b"c, d\' e.');
  });

  it('scores acc from ll(yes) > ll(no) against the label; a tie answers no', () => {
    const yes = wsc.document(row);
    const no = wsc.document({ ...row, label: 0 });
    const r = (a: number, b: number) => [
      { logprob: a, isGreedy: false },
      { logprob: b, isGreedy: false },
    ];
    expect(wsc.score(yes, r(-1, -2))).toEqual({ acc: 1 });
    expect(wsc.score(no, r(-1, -2))).toEqual({ acc: 0 });
    expect(wsc.score(no, r(-2, -2))).toEqual({ acc: 1 });
    expect(wsc.score(yes, r(-2, -2))).toEqual({ acc: 0 });
  });
});

describe('the task table', () => {
  it('lists the eight tasks, each under its harness name, version 0', () => {
    expect(TASK_NAMES).toEqual([
      'lambada_openai',
      'piqa',
      'arc_easy',
      'arc_challenge',
      'sciq',
      'logiqa',
      'winogrande',
      'wsc',
    ]);
    for (const name of TASK_NAMES) {
      expect(TASKS[name].name).toBe(name);
      expect(TASKS[name].version).toBe(0);
      expect(TASKS[name].hub).toEqual(TASK_TABLE[name].hub);
    }
  });

  it('has the document counts the official pythia-70m step143000 results divide by', () => {
    // From ../shared/reference/pythia-evals/pythia-70m/70m_step143000.json: each accuracy is a
    // whole number of documents over the table's count.
    const official: Record<string, number> = {
      lambada_openai: 0.18455268775470599,
      piqa: 0.5946681175190425,
      arc_easy: 0.37373737373737376,
      arc_challenge: 0.18088737201365188,
      sciq: 0.601,
      logiqa: 0.21044546850998463,
      winogrande: 0.5280189423835833,
      wsc: 0.36538461538461536,
    };
    for (const name of TASK_NAMES) {
      const n = TASK_TABLE[name].documents;
      const correct = Math.round(official[name]! * n);
      expect(correct / n).toBe(official[name]);
    }
  });
});
