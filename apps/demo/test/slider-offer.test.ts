import { describe, expect, it } from 'vitest';
import { sliderOffer } from '../src/slider-offer.js';

const commit = (digit: string) => digit.repeat(40);
const listed = {
  state: 'listed' as const,
  branches: [
    { name: 'main', commit: commit('f') },
    { name: 'step1000', commit: commit('1') },
    { name: 'step0', commit: commit('0') },
  ],
};
const picked = (revision: string) => ({ revision, fromUrl: false });

describe('what the checkpoint slider offers', () => {
  it("is the repo's own branches once the Hub lists them, in training order", () => {
    const offer = sliderOffer(listed, [], picked('main'));
    expect(offer.revisions).toEqual(['step0', 'step1000', 'main']);
    expect(offer.revision).toBe('main');
    expect(offer.cached.size).toBe(0);
    expect(offer.note).toBe('3 checkpoints on the Hub, none cached in this browser yet.');
  });

  it('marks as cached the branches whose commit the browser has stored', () => {
    const offer = sliderOffer(
      listed,
      [
        { commit: commit('0'), refs: ['step0'] },
        // Cached as step1000 once, but the branch has moved on since.
        { commit: commit('9'), refs: ['step1000'] },
      ],
      picked('main'),
    );
    expect([...offer.cached]).toEqual(['step0']);
    expect(offer.note).toBe(
      '3 checkpoints on the Hub; the one cached in this browser is marked green.',
    );
  });

  it('moves a picked revision the repo lacks to main, but keeps one from the URL', () => {
    expect(sliderOffer(listed, [], picked('step512')).revision).toBe('main');
    const withoutMain = { state: 'listed' as const, branches: listed.branches.slice(1) };
    expect(sliderOffer(withoutMain, [], picked('step512')).revision).toBe('step1000');
    expect(sliderOffer(listed, [], { revision: 'step512', fromUrl: true }).revision).toBe(
      'step512',
    );
  });

  it('offers only cached checkpoints while the list loads, and keeps the choice meanwhile', () => {
    const offer = sliderOffer(
      { state: 'loading' },
      [{ commit: commit('0'), refs: ['step0'] }],
      picked('main'),
    );
    expect(offer.revisions).toEqual(['step0']);
    expect(offer.revision).toBe('main');
    expect(offer.note).toBe('Reading the list of checkpoints from the Hub…');
  });

  it('offers only cached checkpoints, and says so, when the Hub cannot list them', () => {
    const cached = [
      { commit: commit('1'), refs: ['step1000'] },
      { commit: commit('0'), refs: ['step0'] },
    ];
    const offer = sliderOffer({ state: 'unavailable' }, cached, picked('main'));
    expect(offer.revisions).toEqual(['step0', 'step1000']);
    expect([...offer.cached]).toEqual(['step0', 'step1000']);
    // main is not cached: without the Hub, the latest that is loads instead.
    expect(offer.revision).toBe('step1000');
    expect(offer.note).toBe(
      'Without the Hub’s list, the slider offers only the 2 checkpoints cached in this browser.',
    );
  });

  it('offers nothing offline with an empty cache, and keeps the choice to explain it', () => {
    const offer = sliderOffer({ state: 'unavailable' }, [], picked('main'));
    expect(offer.revisions).toEqual([]);
    expect(offer.revision).toBe('main');
    expect(offer.note).toBe(
      'Without the Hub’s list, the slider offers the checkpoints cached in this browser: none yet.',
    );
  });
});
