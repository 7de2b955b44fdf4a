/** What the page loads, from its query string. */
export interface DemoParams {
  /** Base URL of a Hugging Face Hub (or a mirror, or a static folder laid out like one). */
  hub: string;
  /** Repository id, `org/name`. */
  model: string;
  /** Branch, tag or commit; Pythia's training checkpoints are branches such as `step143000`. */
  revision: string;
  /** Initial text of the tokenizer playground. */
  prompt: string;
}

export const DEFAULT_PARAMS: Readonly<DemoParams> = {
  hub: 'https://huggingface.co',
  model: 'EleutherAI/pythia-70m-deduped',
  revision: 'main',
  prompt: 'Hello, I am',
};

/**
 * Reads `?hub=&model=&revision=&prompt=`; absent parameters take their defaults. An empty
 * `prompt=` is kept (an empty playground), while an empty hub, model or revision could only
 * produce a broken URL, so those fall back to the defaults.
 */
export function readParams(search: string): DemoParams {
  const query = new URLSearchParams(search);
  const nonEmpty = (name: 'hub' | 'model' | 'revision'): string => {
    const value = query.get(name)?.trim();
    return value ? value : DEFAULT_PARAMS[name];
  };
  return {
    hub: nonEmpty('hub'),
    model: nonEmpty('model'),
    revision: nonEmpty('revision'),
    prompt: query.get('prompt') ?? DEFAULT_PARAMS.prompt,
  };
}
