// The small zod pieces every rule schema is built from, each failing with the phrase a person reads after the field name.
import { z } from 'zod';
import { templateFields } from './template.js';

export const ACCOUNT = /^[A-Za-z0-9._-]{1,64}$/;

export const required = (what: string) => ({
  error: (issue: { input: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`),
});
export const text = () => z.string(required('a string')).min(1, 'must not be empty').max(4096, 'is too long');
/** A `{{field}}` template: unknown placeholders are refused when the rule is saved. */
export const template = () =>
  text().superRefine((value, ctx) => {
    try {
      templateFields(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
export const positiveInt = (max: number) =>
  z
    .number(required('a number'))
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(max, `must be at most ${max}`);
export const list = <T extends z.ZodType>(item: T) =>
  z.array(item, required('a list')).min(1, 'must not be empty').max(100, 'has more than 100 entries');
