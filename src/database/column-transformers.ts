/** Column transformers shared by the entities. */
import type { ValueTransformer } from 'typeorm';

/** pg hands bigint back as a string (it may exceed 2^53); our sizes never come close. */
export const bigintAsNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};
